// Command grafana-datasource is the backend of keywarden's Grafana data source plugin. Grafana
// starts it (as gpx_keywarden_<os>_<arch> in the plugin directory) and talks to it over gRPC;
// it is not meant to be run by hand. Build it with scripts/grafana-plugin.sh.
package main

import (
	"os"

	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/rs/zerolog"

	"github.com/keywarden/keywarden/pkg/grafana"
)

func main() {
	// Grafana reads a plugin's stderr as hclog JSON: these field names make each line a
	// structured log entry in Grafana's own log, tagged with the plugin id.
	zerolog.LevelFieldName = "@level"
	zerolog.MessageFieldName = "@message"
	zerolog.TimestampFieldName = "@timestamp"
	zerolog.TimeFieldFormat = "2006-01-02T15:04:05.000000Z07:00"
	log := zerolog.New(os.Stderr).With().Timestamp().Str("@module", "keywarden").Logger()

	factory := grafana.NewInstanceFactory(grafana.Options{Logger: log})
	if err := datasource.Manage(grafana.PluginID, factory, datasource.ManageOpts{}); err != nil {
		log.Error().Err(err).Msg("plugin stopped")
		os.Exit(1)
	}
}
