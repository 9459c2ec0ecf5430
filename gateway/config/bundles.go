package config

// WatchConfig: reload on file changes (fsnotify), besides SIGHUP.
type WatchConfig struct {
	// Enabled watches the config file and every file it references
	// (default true for `gatehouse run`).
	Enabled *bool `json:"enabled"`
	// Debounce is how long changes must have stopped before a reload.
	Debounce Duration `json:"debounce"`
}
