//go:build !heliosdb_debug

package node

import "net/http"

// mountAEDebug: the corruption endpoint exists only in heliosdb_debug builds.
func (n *Node) mountAEDebug(*http.ServeMux) {}
