package events

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/ethereum/go-ethereum/common/hexutil"
)

// MarshalJSON writes the wire form: the envelope with its payload under "data".
func (e Event) MarshalJSON() ([]byte, error) {
	type envelope Event // drops the methods, keeps the tags
	env := envelope(e)
	if env.Schema == 0 {
		env.Schema = SchemaVersion
	}
	if e.Payload != nil {
		env.Kind = e.Payload.Kind()
	}
	return json.Marshal(env)
}

// UnmarshalJSON reads the wire form strictly: unknown schema versions, unknown kinds and
// unknown fields are errors.
func (e *Event) UnmarshalJSON(b []byte) error {
	type fields Event // no methods: no recursion into this UnmarshalJSON
	type envelope struct {
		fields
		Data json.RawMessage `json:"data"` // shadows fields.Payload
	}
	var env struct {
		Schema int             `json:"schema"`
		Kind   Kind            `json:"kind"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("decode event: %w", err)
	}
	if env.Schema != SchemaVersion {
		return fmt.Errorf("decode event: schema version %d, want %d", env.Schema, SchemaVersion)
	}
	var p Payload
	var err error
	switch env.Kind {
	case KindSessionKeyAdded:
		p, err = strictInto[SessionKeyAdded](env.Data)
	case KindSessionKeyRemoved:
		p, err = strictInto[SessionKeyRemoved](env.Data)
	case KindSessionKeyRotated:
		p, err = strictInto[SessionKeyRotated](env.Data)
	case KindPermissionsUpdated:
		p, err = strictInto[PermissionsUpdated](env.Data)
	case KindPluginInstalled:
		p, err = strictInto[PluginInstalled](env.Data)
	case KindPluginUninstalled:
		p, err = strictInto[PluginUninstalled](env.Data)
	case KindOwnerUpdated:
		p, err = strictInto[OwnerUpdated](env.Data)
	case KindUserOperation:
		p, err = strictInto[UserOperationEvent](env.Data)
	default:
		return fmt.Errorf("decode event: unknown kind %q", env.Kind)
	}
	if err != nil {
		return fmt.Errorf("decode event %s data: %w", env.Kind, err)
	}
	// Decode the envelope strictly with data set aside.
	var full envelope
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&full); err != nil {
		return fmt.Errorf("decode event: %w", err)
	}
	*e = Event(full.fields)
	e.Payload = p
	return nil
}

func strictInto[T any](raw json.RawMessage) (T, error) {
	var v T
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(&v)
	return v, err
}

// MarshalJSON writes the updates as objects with a "type" field.
func (p PermissionsUpdated) MarshalJSON() ([]byte, error) {
	ups := make([]json.RawMessage, len(p.Updates))
	for i, u := range p.Updates {
		b, err := MarshalUpdate(u)
		if err != nil {
			return nil, err
		}
		ups[i] = b
	}
	return json.Marshal(struct {
		Account    Address           `json:"account"`
		SessionKey Address           `json:"session_key"`
		Updates    []json.RawMessage `json:"updates"`
	}{p.Account, p.SessionKey, ups})
}

// UnmarshalJSON reads updates written by MarshalJSON.
func (p *PermissionsUpdated) UnmarshalJSON(b []byte) error {
	var w struct {
		Account    Address           `json:"account"`
		SessionKey Address           `json:"session_key"`
		Updates    []json.RawMessage `json:"updates"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return err
	}
	p.Account, p.SessionKey = w.Account, w.SessionKey
	p.Updates = make([]Update, len(w.Updates))
	for i, raw := range w.Updates {
		u, err := UnmarshalUpdate(raw)
		if err != nil {
			return fmt.Errorf("update %d: %w", i, err)
		}
		p.Updates[i] = u
	}
	return nil
}

// MarshalUpdate writes u as a JSON object with "type" and the update's fields.
func MarshalUpdate(u Update) ([]byte, error) {
	if p, ok := u.(Padded); ok {
		inner, err := MarshalUpdate(p.Update)
		if err != nil {
			return nil, err
		}
		elem, _ := json.Marshal(hexutil.Bytes(p.Raw))
		return append(append(inner[:len(inner)-1], []byte(`,"element":`)...), append(elem, '}')...), nil
	}
	body, err := json.Marshal(u)
	if err != nil {
		return nil, err
	}
	head := fmt.Sprintf(`{"type":%q`, u.UpdateKind())
	if len(body) > 2 { // not "{}"
		head += ","
	}
	return append([]byte(head), body[1:]...), nil
}

// UnmarshalUpdate reads what MarshalUpdate wrote.
func UnmarshalUpdate(b []byte) (Update, error) {
	var head struct {
		Type UpdateKind `json:"type"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	delete(m, "type")
	if raw, ok := m["element"]; ok && head.Type != UpdUnknown {
		delete(m, "element")
		var elem hexutil.Bytes
		if err := json.Unmarshal(raw, &elem); err != nil {
			return nil, fmt.Errorf("update element: %w", err)
		}
		withType, _ := json.Marshal(head.Type)
		m["type"] = withType
		inner, _ := json.Marshal(m)
		u, err := UnmarshalUpdate(inner)
		if err != nil {
			return nil, err
		}
		return Padded{Update: u, Raw: elem}, nil
	}
	rest, _ := json.Marshal(m)
	switch head.Type {
	case UpdSetAccessListType:
		return strictInto[SetAccessListType](rest)
	case UpdUpdateAccessListAddressEntry:
		return strictInto[UpdateAccessListAddressEntry](rest)
	case UpdUpdateAccessListFunctionEntry:
		return strictInto[UpdateAccessListFunctionEntry](rest)
	case UpdUpdateTimeRange:
		return strictInto[UpdateTimeRange](rest)
	case UpdSetNativeTokenSpendLimit:
		return strictInto[SetNativeTokenSpendLimit](rest)
	case UpdSetERC20SpendLimit:
		return strictInto[SetERC20SpendLimit](rest)
	case UpdSetGasSpendLimit:
		return strictInto[SetGasSpendLimit](rest)
	case UpdSetRequiredPaymaster:
		return strictInto[SetRequiredPaymaster](rest)
	case UpdUnknown:
		return strictInto[UnknownUpdate](rest)
	}
	return nil, fmt.Errorf("unknown update type %q", head.Type)
}
