// Package config reads PostgREST v16 configuration: a file of key = value
// lines, PGRST_* environment variables over it, and (later) in-database
// settings over both. Field names mirror the config keys one to one.
package config

import "time"

// Config is the effective configuration. Optional keys with no default are
// pointers or empty strings; durations are kept in PostgREST's units
// (seconds) as time.Duration.
type Config struct {
	AppSettings map[string]string // app.settings.* (key without the prefix)

	AdminServerHost string
	AdminServerPort *int
	// AdminServerUnixSocket, when set, replaces admin-server-host/port.
	AdminServerUnixSocket     string
	AdminServerUnixSocketMode uint32

	ClientErrorVerbosity string // verbose | minimal

	DBAggregatesEnabled      bool
	DBAnonRole               string
	DBChannel                string
	DBChannelEnabled         bool
	DBConfig                 bool
	DBPreConfig              string
	DBExtraSearchPath        []string
	DBHoistedTxSettings      []string
	DBMaxRows                *int64
	DBPlanEnabled            bool
	DBPool                   int
	DBPoolAcquisitionTimeout time.Duration
	DBPoolMaxLifetime        time.Duration
	DBPoolMaxIdletime        time.Duration
	DBPoolAutomaticRecovery  bool
	DBPreRequest             string
	DBPreparedStatements     bool
	DBRootSpec               string
	DBSchemas                []string
	DBTxEnd                  string // commit | commit-allow-override | rollback | rollback-allow-override
	DBURI                    string

	JWTAud             string
	JWTRoleClaimKey    string
	JWTSecret          string
	JWTSecretIsBase64  bool
	JWTCacheMaxEntries int

	LogLevel string // crit | error | warn | info | debug
	LogQuery bool   // v16: true logs each request's SQL

	OpenAPIMode           string // follow-privileges | ignore-privileges | disabled
	OpenAPISecurityActive bool
	OpenAPIServerProxyURI string

	ServerCORSAllowedOrigins []string
	ServerHost               string
	ServerPort               int
	ServerReusePort          bool
	ServerTimingEnabled      bool
	ServerTraceHeader        string
	ServerUnixSocket         string
	ServerUnixSocketMode     uint32 // octal permission bits

	URLUseLegacyTargetNames bool // embeds addressed by name despite an alias (default true)

	// pgrest extensions (not in PostgREST; prefixed so they never clash).
	SchemaPollInterval time.Duration // pgrest-schema-poll-interval: catalog fingerprint polling; 0 = off
	SchemaWaitTimeout  time.Duration // pgrest-schema-wait-timeout: max wait for X-Schema-Version-Min
	AdminPprof         bool          // pgrest-admin-pprof: /debug/pprof/ on the admin server (off by default)
	PlanCacheSize      int           // pgrest-plan-cache-size: LRU entries of compiled SQL
	LogFormat          string        // pgrest-log-format: text (PostgREST's lines) | json
	BatchMaxOperations int           // pgrest-batch-max-operations: operations in one batch request

	// Scaling out (pgrest-only): read replicas and a direct LISTEN connection.
	ReplicaURIs          []string      // pgrest-db-replica-uris: streaming standbys serving reads
	ReplicaCheckInterval time.Duration // pgrest-replica-check-interval: health and replay checks
	ReplicaMaxLag        time.Duration // pgrest-replica-max-lag: further behind gets no requests
	ReplicaWaitTimeout   time.Duration // pgrest-replica-wait-timeout: longest wait for X-Pgrest-Min-Lsn
	ListenURI            string        // pgrest-db-listen-uri: session connection for LISTEN ("" = db-uri)

	// Limits and timeouts (pgrest-only). Body and write timeouts are
	// progress deadlines: each read or write must make progress within them.
	MaxBodySize     int64         // pgrest-max-body-size: bytes; 0 = no limit
	BulkMinBytes    int64         // pgrest-bulk-min-bytes: larger CSV/JSON POST bodies go by COPY
	HeaderTimeout   time.Duration // pgrest-header-timeout: to receive the request line and headers
	BodyTimeout     time.Duration // pgrest-body-timeout: longest stall while reading a body
	WriteTimeout    time.Duration // pgrest-write-timeout: longest stall while writing a response
	IdleTimeout     time.Duration // pgrest-idle-timeout: keep-alive connections with no request
	ShutdownTimeout time.Duration // pgrest-shutdown-timeout: grace period for in-flight requests

	// Realtime subscriptions (pgrest-only; see realtime/).
	RealtimeEnabled          bool          // pgrest-realtime-enabled
	RealtimeSlotPrefix       string        // pgrest-realtime-slot-prefix: slot and publication name
	RealtimeMaxSubscriptions int           // pgrest-realtime-max-subscriptions
	RealtimeRetention        time.Duration // pgrest-realtime-retention: resume window
	RealtimeHeartbeat        time.Duration // pgrest-realtime-heartbeat
	RealtimeBuffer           int           // pgrest-realtime-buffer: events queued per subscriber
}

// Default returns PostgREST v16's defaults.
func Default() *Config {
	return &Config{
		AppSettings:               map[string]string{},
		ClientErrorVerbosity:      "verbose",
		DBChannel:                 "pgrst",
		DBChannelEnabled:          true,
		DBConfig:                  true,
		DBExtraSearchPath:         []string{"public"},
		DBHoistedTxSettings:       []string{"statement_timeout", "plan_filter.statement_cost_limit", "default_transaction_isolation"},
		DBPool:                    10,
		DBPoolAcquisitionTimeout:  10 * time.Second,
		DBPoolMaxLifetime:         1800 * time.Second,
		DBPoolMaxIdletime:         30 * time.Second,
		DBPoolAutomaticRecovery:   true,
		DBPreparedStatements:      true,
		DBSchemas:                 []string{"public"},
		DBTxEnd:                   "commit",
		DBURI:                     "postgresql://",
		JWTRoleClaimKey:           "$.role",
		JWTCacheMaxEntries:        1000,
		LogLevel:                  "error",
		OpenAPIMode:               "follow-privileges",
		ServerHost:                "!4",
		ServerPort:                3000,
		ServerUnixSocketMode:      0o660,
		AdminServerUnixSocketMode: 0o660,
		LogFormat:                 "text",
		URLUseLegacyTargetNames:   true,
		SchemaWaitTimeout:         5 * time.Second,
		ReplicaCheckInterval:      time.Second,
		ReplicaMaxLag:             10 * time.Second,
		ReplicaWaitTimeout:        time.Second,
		PlanCacheSize:             4096,
		BatchMaxOperations:        100,
		MaxBodySize:               128 << 20,
		BulkMinBytes:              1 << 20,
		HeaderTimeout:             10 * time.Second,
		BodyTimeout:               30 * time.Second,
		WriteTimeout:              30 * time.Second,
		IdleTimeout:               60 * time.Second,
		ShutdownTimeout:           30 * time.Second,
		RealtimeSlotPrefix:        "pgrest_realtime",
		RealtimeMaxSubscriptions:  10000,
		RealtimeRetention:         300 * time.Second,
		RealtimeHeartbeat:         15 * time.Second,
		RealtimeBuffer:            256,
	}
}
