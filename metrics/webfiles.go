package metrics

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v2"
)

// WebFile is a file the web listener reads while it serves.
type WebFile struct {
	Path string
	Role string // what it is, as the configuration names it: "web config", "cert_file", ...
}

// WebFiles returns the web configuration file and every file it names
// (certificate, key, client CAs). exporter-toolkit reads them again at every
// request or TLS handshake, not once at start, so a process that drops
// privileges must still be able to read them afterwards.
func WebFiles(configFile string) ([]WebFile, error) {
	if configFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(configFile)
	if err != nil {
		return nil, fmt.Errorf("%w: --web.config.file: %w", ErrWebConfig, err)
	}
	var c web.Config
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%w: --web.config.file %s: %w", ErrWebConfig, configFile, err)
	}
	// Relative paths are relative to the configuration file, as
	// exporter-toolkit reads them.
	c.TLSConfig.SetDirectory(filepath.Dir(configFile))
	files := []WebFile{{configFile, "web config"}}
	for _, f := range []WebFile{
		{c.TLSConfig.TLSCertPath, "cert_file"},
		{c.TLSConfig.TLSKeyPath, "key_file"},
		{c.TLSConfig.ClientCAs, "client_ca_file"},
	} {
		if f.Path != "" {
			files = append(files, f)
		}
	}
	return files, nil
}

// CheckReadable opens every file for reading, as the calling process is
// now, and returns the first failure naming the file and its role.
func CheckReadable(files []WebFile) error {
	for _, f := range files {
		fd, err := os.Open(f.Path)
		if err != nil {
			return fmt.Errorf("%s %s: %w", f.Role, f.Path, err)
		}
		fd.Close()
	}
	return nil
}
