package events

import (
	"fmt"
	"strconv"
)

// NATS subjects. Every subject starts with the chain id so that consumers can filter by chain.
//
//	keywarden.<chain>.event.<kind>      a decoded event (verified or not: see Event.Verified)
//	keywarden.<chain>.retract.<kind>    a reorg retracted an event (same payload, Removed=true)
//	keywarden.<chain>.state             a key's folded state after a change (KeyState)
//	keywarden.<chain>.failure           a log that did not decode (DecodeFailure)
//	keywarden.<chain>.audit.<what>      the enforcer's verdicts and action outcomes
const SubjectRoot = "keywarden"

// StreamName is the JetStream stream that carries every indexer subject.
const StreamName = "KEYWARDEN"

// StreamSubjects are the subjects the stream captures: the indexer's, and the enforcer's audit.
var StreamSubjects = []string{SubjectRoot + ".*.event.>", SubjectRoot + ".*.retract.>",
	SubjectRoot + ".*.state", SubjectRoot + ".*.failure", SubjectRoot + ".*.audit.>"}

func chainPrefix(chainID uint64) string { return SubjectRoot + "." + strconv.FormatUint(chainID, 10) }

// EventSubject is where an event of kind is published.
func EventSubject(chainID uint64, kind Kind) string {
	return chainPrefix(chainID) + ".event." + string(kind)
}

// RetractSubject is where the retraction of an event of kind is published.
func RetractSubject(chainID uint64, kind Kind) string {
	return chainPrefix(chainID) + ".retract." + string(kind)
}

// StateSubject is where key states of a chain are published.
func StateSubject(chainID uint64) string { return chainPrefix(chainID) + ".state" }

// FailureSubject is where decode failures of a chain are published.
func FailureSubject(chainID uint64) string { return chainPrefix(chainID) + ".failure" }

// AuditSubject is where the enforcer publishes audit records of a given kind ("verdict", "action").
func AuditSubject(chainID uint64, what string) string { return chainPrefix(chainID) + ".audit." + what }

// MsgID is the JetStream message id of an event: its identity, with a prefix that keeps an
// event and its retraction apart.
func MsgID(e Event) string {
	if e.Removed {
		return "retract:" + e.ID()
	}
	return e.ID()
}

// StateMsgID is the message id of a key-state message: one per (key, triggering event).
func StateMsgID(k KeyState) string {
	return fmt.Sprintf("state:%d:%s:%s:%s", k.ChainID, k.Account.Hex(), k.SessionKey.Hex(), k.LastEventID)
}
