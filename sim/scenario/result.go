package scenario

// Result is the outcome of a run, and the JSON object `meshdfu sim --json`
// prints (schema: docs/sim-json.md). Every field but WallSeconds is a
// pure function of the Config.
type Result struct {
	// OK is true when every target ended as planned (TargetResult.Expected).
	OK   bool   `json:"ok"`
	Seed uint64 `json:"seed"`
	// VirtualDuration is the simulated time from the start of the upload
	// to the end of the distribution.
	VirtualDuration float64 `json:"virtual_duration_s"`
	// WallSeconds is how long the run took on this machine.
	WallSeconds float64 `json:"wall_s"`
	// ImageBytes is the size of the BLOB every target receives (the signed
	// image file).
	ImageBytes int `json:"image_bytes"`
	// Nodes is the number of targets (Config.Targets).
	Nodes    int            `json:"nodes"`
	Network  Network        `json:"network"`
	Targets  []TargetResult `json:"targets"`
	Transfer Transfer       `json:"transfer"`
	Phases   []PhaseSpan    `json:"phases"`
	Air      Air            `json:"air"`
	Keys     Keys           `json:"keys"`
	Faults   []string       `json:"faults"`
	// LPNs is the number of Low Power targets (Config.LPNs);
	// FriendQueueOverflows counts the PDUs their Friends evicted from or
	// refused into a Friend Queue: 0 proves none was lost there.
	LPNs                 int    `json:"lpns"`
	FriendQueueOverflows uint64 `json:"friend_queue_overflows"`

	// Series is every target's share of the image over virtual time, for
	// charts (not in the JSON).
	Series []TargetSeries `json:"-"`
	// AirByNode is each node's air time by kind, for charts (not in the
	// JSON).
	AirByNode []NodeAir `json:"-"`
	// ImageFile is the image file every target should end up holding (not
	// in the JSON).
	ImageFile []byte `json:"-"`
	// TimedOut is set when the distribution did not end within
	// Config.Limit of virtual time (not in the JSON).
	TimedOut bool `json:"-"`
	// EndError is how the Initiator's procedure ended, "" for success
	// (not in the JSON).
	EndError string `json:"-"`
	// Struck lists the planned faults that happened, in order, with the
	// target they hit when there is one (not in the JSON).
	Struck []string `json:"-"`
}

// Network describes the simulated network.
type Network struct {
	Topology    string  `json:"topology"`
	Nodes       int     `json:"nodes"` // every node: Initiator, distributor and targets
	Relays      int     `json:"relays"`
	MaxHops     int     `json:"max_hops"` // from the distributor
	Loss        float64 `json:"loss"`
	Burst       bool    `json:"burst"`
	Initiator   string  `json:"initiator"`   // address
	Distributor string  `json:"distributor"` // address
	// Role is how the distributor works: "dfd", a Firmware Distribution
	// Server driven by the Initiator (the only one now).
	Role       string `json:"distributor_role"`
	Profile    string `json:"profile"`
	Upload     string `json:"upload"`
	Addressing string `json:"addressing"` // "group" or "unicast"
}

// TargetResult is one target's outcome.
type TargetResult struct {
	Address string `json:"address"`
	// FinalPhase is the target's phase as the specification names it
	// ("Apply Success", "Verification Failed", "Transfer Error", …).
	FinalPhase string `json:"final_phase"`
	// Status is the last Firmware Update status code it answered.
	Status string `json:"status"`
	// Reason says why it failed ("" when it did not).
	Reason string `json:"reason"`
	// Expected is the final phase the scenario planned for it.
	Expected string `json:"expected"`
	// Fault is the sabotage it was chosen for, "" for none.
	Fault string `json:"fault,omitempty"`
	// CompletedAt is the virtual time it reached its final phase.
	CompletedAt float64 `json:"completed_at_s"`
	Hops        int     `json:"hops"`
	// LPN is set for a Low Power target.
	LPN bool `json:"lpn"`
	// Mode is the Transfer Mode of its last BLOB Transfer Start, "push"
	// or "pull" ("" when none came).
	Mode string `json:"mode"`
	// RadioOn is a Low Power target's radio-on time in seconds (receive
	// windows and its own transmissions), 0 for the others.
	RadioOn float64 `json:"radio_on_s"`
	// Installed is the BLOB a target that applied holds in its storage
	// (shared, not a copy), nil for the others (not in the JSON).
	Installed []byte `json:"-"`
}

// Transfer describes the BLOB transfer to the targets.
type Transfer struct {
	// Duration is the virtual time of the BLOB transfer step.
	Duration float64 `json:"duration_s"`
	// Goodput is ImageBytes / Duration: the image counts once, however
	// many targets receive it.
	Goodput float64 `json:"goodput_Bps"`
	// Bound is the medium's air-time limit for one sender: 12 octets of
	// payload per minimum advertising gap.
	Bound float64 `json:"bound_Bps"`
	// Efficiency is Goodput / Bound.
	Efficiency float64 `json:"efficiency"`
	ChunkSize  int     `json:"chunk_size"`
	BlockSize  int     `json:"block_size"`
	Mode       string  `json:"mode"`
}

// PhaseSpan is one step of the procedure in virtual time: "upload",
// "start", "transfer", "verify", "apply", "confirm".
type PhaseSpan struct {
	Name     string  `json:"name"`
	Start    float64 `json:"start_s"`
	Duration float64 `json:"duration_s"`
}

// Air sums the medium's counters.
type Air struct {
	PDUs       uint64  `json:"pdus"`       // advertising events put on air
	AirTime    float64 `json:"air_time_s"` // summed over every sender
	Collisions uint64  `json:"collisions"` // receptions lost to overlap
	Lost       uint64  `json:"lost"`       // receptions lost, every cause
	Deliveries uint64  `json:"deliveries"` // receptions that succeeded
}

// Keys are the network's secrets in hex, for opening a capture in
// Wireshark.
type Keys struct {
	NetKey  string `json:"netkey"`
	AppKey  string `json:"appkey"`
	IVIndex string `json:"iv_index"`
}

// TargetSeries is one target's progress over virtual time.
type TargetSeries struct {
	Address string
	Points  []Point
}

// Point is a share of the image (0–1) held at a virtual time (seconds).
type Point struct {
	T, V float64
}

// NodeAir is one node's air time, split by what it sent.
type NodeAir struct {
	Address string
	Role    string  // "distributor", "target", "relay+target"
	Own     float64 // seconds on air for its own messages
	Relayed float64 // seconds on air relaying others'
	Beacons float64 // seconds on air for beacons and other AD types
}
