//go:build heliosdb_debug

package node

import (
	"encoding/hex"
	"net/http"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// mountAEDebug serves POST /debug/ae/corrupt?table=T&key=HEX[&row=HEX][&op=put|delete|rot]
// in heliosdb_debug builds only: it changes this replica behind raft's
// back so anti-entropy can be exercised on real processes.
func (n *Node) mountAEDebug(mux *http.ServeMux) {
	engine.EnableDebugHooks()
	mux.HandleFunc("POST /debug/ae/corrupt", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		key, err1 := hex.DecodeString(q.Get("key"))
		row, err2 := hex.DecodeString(q.Get("row"))
		if err1 != nil || err2 != nil {
			http.Error(w, "key and row are hex", http.StatusBadRequest)
			return
		}
		var err error
		switch q.Get("op") {
		case "delete":
			err = n.eng.DebugDeleteRow(q.Get("table"), string(key))
		case "rot":
			err = n.eng.DebugPutRow(q.Get("table"), string(key), row, true)
		default:
			err = n.eng.DebugPutRow(q.Get("table"), string(key), row, false)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, map[string]string{"status": "corrupted"})
	})
}
