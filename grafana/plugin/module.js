/*
 * keywarden data source: the browser side, hand-written as an AMD module so that the plugin
 * needs no JavaScript build. Every query goes to the Go backend (DataSourceWithBackend); the
 * editor only picks a named query type and its filters, never SQL. Dashboards under
 * dashboards/ carry complete queries, so the editor is a convenience.
 */
define(["@grafana/data", "@grafana/runtime", "react"], function (data, runtime, React) {
  "use strict";
  var h = React.createElement;

  var QUERY_TYPES = ["keys", "events", "verdicts", "actions", "coverage", "decode_failures", "indexer_progress", "live"];
  var FORMATS = {
    keys: ["table", "by_account"],
    events: ["time_series", "table"],
    verdicts: ["time_series", "table"],
    actions: ["time_series", "table"],
    coverage: ["table", "summary"],
    decode_failures: ["table", "time_series"],
    indexer_progress: ["table"],
    live: ["table"]
  };
  // Text fields that may hold dashboard variables ($chain, $account, ...).
  var TEMPLATED = ["chain", "account", "sessionKey", "status", "verified", "accessControl", "expiringWithin",
    "policy", "severity", "outcome", "reason"];

  class KeywardenDataSource extends runtime.DataSourceWithBackend {
    constructor(settings) {
      super(settings);
    }
    applyTemplateVariables(query, scopedVars) {
      var srv = runtime.getTemplateSrv();
      var out = Object.assign({}, query);
      TEMPLATED.forEach(function (k) {
        if (typeof out[k] === "string" && out[k] !== "") {
          out[k] = srv.replace(out[k], scopedVars);
        }
      });
      return out;
    }
    filterQuery(query) {
      return !query.hide && QUERY_TYPES.indexOf(query.queryType) >= 0;
    }
    getDefaultQuery() {
      return { queryType: "keys", format: "table" };
    }
  }

  function field(label, input) {
    return h("label", { style: { display: "inline-flex", flexDirection: "column", marginRight: 8, fontSize: 12 } }, label, input);
  }

  function QueryEditor(props) {
    var q = props.query || {};
    var set = function (k, v) {
      var next = Object.assign({}, q);
      next[k] = v;
      if (k === "queryType") {
        next.format = (FORMATS[v] || ["table"])[0];
      }
      props.onChange(next);
      props.onRunQuery();
    };
    var select = function (k, options) {
      return h("select", { value: q[k] || "", onChange: function (e) { set(k, e.target.value); } },
        options.map(function (o) { return h("option", { key: o, value: o }, o || "(any)"); }));
    };
    var text = function (k, placeholder) {
      return h("input", { value: q[k] || "", placeholder: placeholder, onChange: function (e) { set(k, e.target.value); } });
    };
    var qt = q.queryType || "keys";
    return h("div", { style: { display: "flex", flexWrap: "wrap", gap: 4 } },
      field("Query type", select("queryType", QUERY_TYPES)),
      field("Format", select("format", FORMATS[qt] || ["table"])),
      field("Chain", text("chain", "all")),
      field("Account", text("account", "0x…")),
      qt === "keys" ? field("Status", select("status", ["", "active", "removed", "rotated_away", "any"])) : null,
      qt === "keys" ? field("Access", select("accessControl", ["", "allowlist", "denylist", "allow_all"])) : null,
      qt === "keys" ? field("Expiring within", text("expiringWithin", "72h")) : null,
      qt === "keys" || qt === "events" ? field("Verified", select("verified", ["", "true", "false"])) : null,
      qt === "verdicts" || qt === "actions" ? field("Policy", text("policy", "policy id")) : null,
      qt === "verdicts" ? field("Severity", select("severity", ["", "info", "low", "medium", "high", "critical"])) : null,
      qt === "actions" ? field("Outcome", text("outcome", "failed")) : null,
      qt === "decode_failures" ? field("Reason", text("reason", "")) : null
    );
  }

  function ConfigEditor() {
    return h("div", null,
      h("p", null, "keywarden is configured by provisioning (grafana/provisioning/datasources/keywarden.yaml):"),
      h("pre", null, "jsonData: { clickhouse: { addrs, database, username }, nats: { url, user } }\n" +
        "secureJsonData: { clickhousePassword, natsPassword, natsToken, natsCreds }"),
      h("p", null, "Use “Save & test” to check ClickHouse and NATS."));
  }

  var plugin = new data.DataSourcePlugin(KeywardenDataSource)
    .setQueryEditor(QueryEditor)
    .setConfigEditor(ConfigEditor);
  return { plugin: plugin };
});
