package antientropy

// SetBeforeRepair installs a hook run between detection and repair.
func SetBeforeRepair(r *Runner, f func(round uint64)) {
	r.runMu.Lock()
	defer r.runMu.Unlock()
	r.beforeRepair = f
}
