package reposvc

import "github.com/fsenet/fsenet/repository/store"

// OpenBackup opens a point-in-time view of the region's document store
// for a backup; during runs while no submission can commit, to capture
// the replicated state consistently with the view (store.OpenBackup).
func (m *Module) OpenBackup(during func() error) (*store.Backup, error) {
	return m.docs.OpenBackup(during)
}
