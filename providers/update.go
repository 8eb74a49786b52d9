package providers

import "slices"

// Updatable reports whether a message of kind k can be updated after it was sent.
func (c Capabilities) Updatable(k Kind) bool { return c.Update && slices.Contains(c.UpdatableKinds, k) }

// UpdateOnly reports whether k is valid only as update content.
func (c Capabilities) UpdateOnly(k Kind) bool { return slices.Contains(c.UpdateOnlyKinds, k) }
