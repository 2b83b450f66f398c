#!/bin/sh
# Builds keywarden's Grafana data source plugin into a plugin directory (no make, no npm):
#   scripts/grafana-plugin.sh [OUT_DIR]          default OUT_DIR: dist/keywarden-keywarden-datasource
# The directory holds plugin.json, module.js, img/ and one backend binary per target,
# gpx_keywarden_<os>_<arch> (the name Grafana derives from plugin.json's "executable").
# Targets: GRAFANA_PLUGIN_TARGETS="linux/amd64 linux/arm64" (default: both, plus the host's).
# The plugin is unsigned: Grafana must list it in allow_loading_unsigned_plugins.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-"$root/dist/keywarden-keywarden-datasource"}
targets=${GRAFANA_PLUGIN_TARGETS:-"linux/amd64 linux/arm64 $(go env GOOS)/$(go env GOARCH)"}

mkdir -p "$out/img"
cp "$root/grafana/plugin/plugin.json" "$root/grafana/plugin/module.js" "$out/"
cp "$root/grafana/plugin/img/logo.svg" "$out/img/"

built=""
for t in $targets; do
	case " $built " in *" $t "*) continue ;; esac
	os=${t%/*}
	arch=${t#*/}
	bin="$out/gpx_keywarden_${os}_${arch}"
	[ "$os" = windows ] && bin="$bin.exe"
	echo "building $bin"
	(cd "$root" && CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -ldflags "-s -w" -o "$bin" ./cmd/grafana-datasource)
	built="$built $t"
done
echo "plugin in $out"
