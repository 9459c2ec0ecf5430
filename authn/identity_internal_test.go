package authn

import (
	"reflect"
	"testing"
	"time"
)

// clone must copy every exported field: a field added to Identity and
// forgotten there would silently vanish from key manager identities.
func TestIdentityCloneCopiesEveryField(t *testing.T) {
	id := &Identity{}
	v := reflect.ValueOf(id).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if !v.Type().Field(i).IsExported() {
			continue
		}
		switch f.Kind() {
		case reflect.String:
			f.SetString("x")
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
		case reflect.Map:
			f.Set(reflect.MakeMap(f.Type()))
		case reflect.Pointer:
			f.Set(reflect.New(f.Type().Elem()))
		case reflect.Struct:
			if f.Type() == reflect.TypeOf(time.Time{}) {
				f.Set(reflect.ValueOf(time.Unix(1, 0)))
			}
		default:
			t.Fatalf("field %s of kind %s: extend this test", v.Type().Field(i).Name, f.Kind())
		}
	}
	cp := reflect.ValueOf(id.clone()).Elem()
	for i := 0; i < v.NumField(); i++ {
		name := v.Type().Field(i).Name
		if !v.Type().Field(i).IsExported() {
			continue
		}
		if cp.Field(i).IsZero() {
			t.Errorf("clone does not copy %s", name)
		}
	}
}

func TestIdentityWithScheme(t *testing.T) {
	id := &Identity{Type: TypeOpaqueToken, Subject: "s", Scopes: []string{"a"}}
	a := id.WithScheme("oauth")
	if a == id || a.Scheme != "oauth" || a.Subject != "s" || id.Scheme != "" {
		t.Fatalf("copy %+v of %+v", a, id)
	}
	if again := id.WithScheme("oauth"); again != a {
		t.Fatal("a scheme's identity must be built once")
	}
	if b := id.WithScheme("other"); b == a || b.Scheme != "other" {
		t.Fatalf("second scheme: %+v", b)
	}
	if a.WithScheme("oauth") != a {
		t.Fatal("an identity of the scheme is returned as is")
	}
}
