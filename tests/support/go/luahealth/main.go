// luahealth runs an Argo CD resource health script (Lua) against an object, in gopher-lua, the interpreter Argo CD
// embeds, with the libraries Argo CD opens for health scripts (package, base, table; no os, io, string or math).
//
//	luahealth SCRIPT.lua OBJECT.(json|yaml-as-json)   ->  {"status": "...", "message": "..."}
//
// The object is read as JSON (the tests convert YAML first) and bound to the global `obj`, as Argo CD does.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	lua "github.com/yuin/gopher-lua"
)

func toLua(L *lua.LState, v interface{}) lua.LValue {
	switch x := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(x)
	case float64:
		return lua.LNumber(x)
	case string:
		return lua.LString(x)
	case []interface{}:
		t := L.NewTable()
		for _, e := range x {
			t.Append(toLua(L, e))
		}
		return t
	case map[string]interface{}:
		t := L.NewTable()
		for k, e := range x {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	}
	panic(fmt.Sprintf("unsupported JSON value %T", v))
}

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "luahealth: "+format+"\n", a...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 3 {
		fail("usage: luahealth SCRIPT.lua OBJECT.json")
	}
	script, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	raw, err := os.ReadFile(os.Args[2])
	if err != nil {
		fail("%v", err)
	}
	var obj map[string]interface{}
	if err := json.Unmarshal(raw, &obj); err != nil {
		fail("object is not JSON: %v", err)
	}
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable},
		} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	L.SetGlobal("obj", toLua(L, obj))
	if err := L.DoString(string(script)); err != nil {
		fail("script error: %v", err)
	}
	ret, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		fail("script did not return a table (got %s)", L.Get(-1).Type())
	}
	out := map[string]string{}
	ret.ForEach(func(k, v lua.LValue) { out[k.String()] = v.String() })
	if out["status"] == "" {
		fail("script returned no status: %v", out)
	}
	enc, _ := json.Marshal(out)
	fmt.Println(string(enc))
}
