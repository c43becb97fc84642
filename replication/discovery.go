package replication

import "context"

type discovery struct{ ml interface{ NumMembers() int; Shutdown() error } }

func (d *discovery) meta(id string) (nodeMeta, bool) { return nodeMeta{}, false }

type nodeMeta struct{ AdminAddr string }

func (n *Node) startDiscovery(ctx context.Context) error { return ErrNotCluster }
