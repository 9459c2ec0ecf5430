package bundles

import (
	"github.com/open-policy-agent/opa/v1/download"
)

// unchanged reports whether a downloaded bundle is the one already active
// (or the one just rejected): same content hash and same declared revision.
// A bundle server that sends no ETag (or a new ETag for the same bytes)
// answers every poll with the whole bundle; without this check each poll
// would build and swap a whole generation — compile, caches, readiness —
// for nothing. The ETag is still recorded, so the next poll can get a 304.
// Called with r.mu held.
func (r *Remote) unchanged(name string, st *RemoteStatus, u download.Update, hash string) bool {
	if st.hash == "" || st.hash != hash {
		return false
	}
	if st.rejected {
		// The same bad bundle again: keep its error, build nothing.
		st.Unchanged++
		st.ETag = u.ETag
		return true
	}
	var cur string
	if a := r.active[name]; a != nil {
		cur = a.Bundle.Manifest.Revision
	} else if p := r.pending[name]; p != nil {
		cur = p.Bundle.Manifest.Revision
	} else {
		return false
	}
	if cur != u.Bundle.Manifest.Revision {
		return false // a new declared revision is worth showing, even for the same content
	}
	st.Unchanged++
	st.ETag = u.ETag
	st.LastError = ""
	return true
}
