package shard

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseID(t *testing.T) {
	valid := strings.Repeat("0123456789abcdef", 4)
	cases := []struct {
		in string
		ok bool
	}{
		{valid, true},
		{strings.Repeat("0", 64), true},
		{strings.ToUpper(valid), false},
		{valid[:63], false},
		{valid + "0", false},
		{"0x" + valid[2:], false},
		{" " + valid[1:], false},
		{valid[:63] + "g", false},
		{"", false},
	}
	for _, c := range cases {
		id, err := ParseID(c.in)
		if c.ok != (err == nil) {
			t.Errorf("ParseID(%q) = %v, want ok=%v", c.in, err, c.ok)
			continue
		}
		if !c.ok {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseID(%q) error %v does not wrap ErrMalformed", c.in, err)
			}
			if _, err := ParsePublicKey(c.in); !errors.Is(err, ErrMalformed) {
				t.Errorf("ParsePublicKey(%q) = %v, want ErrMalformed", c.in, err)
			}
			continue
		}
		if id.String() != c.in {
			t.Errorf("ParseID(%q).String() = %q", c.in, id.String())
		}
		if k, err := ParsePublicKey(c.in); err != nil || k.String() != c.in {
			t.Errorf("ParsePublicKey(%q) = %v, %v", c.in, k, err)
		}
	}
}

func TestIDText(t *testing.T) {
	id := ComputeID([]byte("hello"), 4)
	if id.IsZero() || !(ID{}).IsZero() {
		t.Fatal("IsZero wrong")
	}
	type wrap struct {
		ID  ID        `json:"id"`
		Key PublicKey `json:"key"`
		Map map[ID]int
	}
	in := wrap{ID: id, Key: PublicKey(id), Map: map[ID]int{id: 1}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"` + id.String() + `","key":"` + id.String() + `","Map":{"` + id.String() + `":1}}`
	if string(b) != want {
		t.Fatalf("json %s, want %s", b, want)
	}
	var out wrap
	if err := json.Unmarshal(b, &out); err != nil || out.ID != id || out.Key != in.Key || out.Map[id] != 1 {
		t.Fatalf("json round trip: %+v, %v", out, err)
	}
	bad := strings.Replace(string(b), id.String()[:2], "ZZ", 1)
	if err := json.Unmarshal([]byte(bad), &out); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad hex in JSON: %v, want ErrMalformed", err)
	}
}
