package wecomsim

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// App is a self-built app (自建应用) of a corp.
type App struct {
	// CorpID is the corp's id (corpid). Matched case-insensitively, as WeCom
	// matches plaintext corpids. Required.
	CorpID string
	// AgentID is the app's agentid. Required, > 0.
	AgentID int64
	// Secret is the app's corpsecret. Required, unique within the corp. Never
	// logged, never shown by the inspection API.
	Secret string
}

// appKey identifies an app: (lower-cased corpid, agentid).
type appKey struct {
	corp  string
	agent int64
}

type app struct {
	App
	key     appKey
	token   *token // the current token, if any
	fetches int
	taskIDs map[string]struct{} // template_card task_ids used by this app
	// install is set for the app of a suite installed in a corp (InstallTenant).
	install *install
	// unlicensed are members without 基础接口许可: message/send lists them in
	// unlicenseduser and does not deliver to them.
	unlicensed map[string]bool
	// callback is where the app's own data callbacks go (SetAppCallback).
	callback *CallbackConfig
}

// corp is a corp's directory. All ids are stored lower-cased for users (WeCom
// plaintext userids are case-insensitive) and as given for departments and tags.
type corp struct {
	id string // as first added
	// caseSensitive corps (those seen through a third-party suite) keep
	// userids as given: encrypted ids are case-sensitive.
	caseSensitive bool
	users         map[string]struct{}
	order         []string // users in insertion order, for @all
	depts         map[string]*dept
	tags          map[string]*tag
}

type dept struct {
	members  []string
	children []string
}

type tag struct {
	users []string
	depts []string
}

func normUser(id string) string { return strings.ToLower(strings.TrimSpace(id)) }

// norm is the form of a userid in c: lower-cased (plaintext ids are
// case-insensitive) unless c is case-sensitive.
func (c *corp) norm(id string) string {
	if c.caseSensitive {
		return strings.TrimSpace(id)
	}
	return normUser(id)
}

func corpKey(id string) string { return strings.ToLower(strings.TrimSpace(id)) }

// corpLocked returns the corp with id, creating it; s.mu must be held.
func (s *Sim) corpLocked(id string) *corp {
	k := corpKey(id)
	c := s.corps[k]
	if c == nil {
		c = &corp{id: strings.TrimSpace(id), users: map[string]struct{}{}, depts: map[string]*dept{}, tags: map[string]*tag{}}
		s.corps[k] = c
	}
	return c
}

// AddApp registers a self-built app, creating its corp if needed. Adding an app
// that exists replaces its secret (like resetting it in the admin console);
// tokens already issued stay valid until they expire.
func (s *Sim) AddApp(a App) error {
	a.CorpID = strings.TrimSpace(a.CorpID)
	switch {
	case a.CorpID == "":
		return errors.New("wecomsim: AddApp: empty CorpID")
	case a.AgentID <= 0:
		return fmt.Errorf("wecomsim: AddApp: AgentID %d must be > 0", a.AgentID)
	case a.Secret == "":
		return errors.New("wecomsim: AddApp: empty Secret")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := appKey{corp: corpKey(a.CorpID), agent: a.AgentID}
	for k, other := range s.apps {
		if k.corp == key.corp && k != key && other.Secret == a.Secret {
			return fmt.Errorf("wecomsim: AddApp: corp %s agent %d: secret already used by agent %d", a.CorpID, a.AgentID, k.agent)
		}
	}
	s.corpLocked(a.CorpID)
	if existing := s.apps[key]; existing != nil {
		existing.Secret = a.Secret
		return nil
	}
	s.apps[key] = &app{App: a, key: key, taskIDs: map[string]struct{}{}}
	return nil
}

// AddUsers adds members to the corp's directory (creating the corp if needed).
// Userids are case-insensitive: "ZhangSan" and "zhangsan" are one member, stored
// and reported lower-cased. Every app of the corp can see every member.
func (s *Sim) AddUsers(corpID string, ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addUsersLocked(s.corpLocked(corpID), ids)
}

func (s *Sim) addUsersLocked(c *corp, ids []string) []string {
	var added []string
	for _, id := range ids {
		u := c.norm(id)
		if u == "" {
			continue
		}
		added = append(added, u)
		if _, ok := c.users[u]; ok {
			continue
		}
		c.users[u] = struct{}{}
		c.order = append(c.order, u)
	}
	return added
}

// RemoveUsers deletes members from the corp's directory and from its departments
// and tags, as when employees leave; later sends list them in invaliduser.
func (s *Sim) RemoveUsers(corpID string, ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.corpLocked(corpID)
	gone := map[string]bool{}
	for _, id := range ids {
		u := c.norm(id)
		gone[u] = true
		delete(c.users, u)
	}
	drop := func(list []string) []string {
		return slices.DeleteFunc(list, func(u string) bool { return gone[u] })
	}
	c.order = drop(c.order)
	for _, d := range c.depts {
		d.members = drop(d.members)
	}
	for _, t := range c.tags {
		t.users = drop(t.users)
	}
}

// AddDept creates department deptID (if needed) and adds members to it; the
// members are added to the corp's directory too. toparty=deptID reaches the
// department's members and those of its sub-departments ([Sim.AddSubDept]).
func (s *Sim) AddDept(corpID, deptID string, members ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.corpLocked(corpID)
	d := c.deptLocked(deptID)
	for _, u := range s.addUsersLocked(c, members) {
		if !slices.Contains(d.members, u) {
			d.members = append(d.members, u)
		}
	}
}

// AddSubDept makes childID a sub-department of parentID, creating both if needed.
func (s *Sim) AddSubDept(corpID, parentID, childID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.corpLocked(corpID)
	p := c.deptLocked(parentID)
	c.deptLocked(childID)
	child := strings.TrimSpace(childID)
	if !slices.Contains(p.children, child) {
		p.children = append(p.children, child)
	}
}

// AddTag creates tag tagID (if needed) and adds members (userids) to it; the
// members are added to the corp's directory too.
func (s *Sim) AddTag(corpID, tagID string, members ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.corpLocked(corpID)
	t := c.tagLocked(tagID)
	for _, u := range s.addUsersLocked(c, members) {
		if !slices.Contains(t.users, u) {
			t.users = append(t.users, u)
		}
	}
}

// AddTagDepts creates tag tagID (if needed) and adds departments to it (created
// if needed); totag=tagID then reaches their members too.
func (s *Sim) AddTagDepts(corpID, tagID string, deptIDs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.corpLocked(corpID)
	t := c.tagLocked(tagID)
	for _, id := range deptIDs {
		id = strings.TrimSpace(id)
		c.deptLocked(id)
		if !slices.Contains(t.depts, id) {
			t.depts = append(t.depts, id)
		}
	}
}

func (c *corp) deptLocked(id string) *dept {
	id = strings.TrimSpace(id)
	d := c.depts[id]
	if d == nil {
		d = &dept{}
		c.depts[id] = d
	}
	return d
}

func (c *corp) tagLocked(id string) *tag {
	id = strings.TrimSpace(id)
	t := c.tags[id]
	if t == nil {
		t = &tag{}
		c.tags[id] = t
	}
	return t
}

// expandDept appends the members of dept id and its sub-departments to out.
func (c *corp) expandDept(id string, seen map[string]bool, out func(string)) {
	if seen[id] {
		return
	}
	seen[id] = true
	d := c.depts[id]
	if d == nil {
		return
	}
	for _, u := range d.members {
		out(u)
	}
	for _, ch := range d.children {
		c.expandDept(ch, seen, out)
	}
}

// userRecKeyLocked is the key of user's delivery records: the id as given when
// a case-sensitive corp delivered to it, else lower-cased; s.mu must be held.
func (s *Sim) userRecKeyLocked(user string) string {
	u := strings.TrimSpace(user)
	if _, ok := s.rec.counters[u]; ok {
		return u
	}
	return normUser(u)
}
