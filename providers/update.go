package providers

// KindButton is an update-only kind: it replaces the text of the clicked
// button of an interactive card and makes it unclickable; Text holds the new
// button text (WeCom update_template_card "button.replace_name").
const KindButton Kind = "button"
