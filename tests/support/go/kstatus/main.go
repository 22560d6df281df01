// kstatus computes an object's status with sigs.k8s.io/cli-utils/pkg/kstatus, the library Flux's health checks,
// `kubectl wait`-style tooling and cli-utils (kpt, Config Sync) use.
//
//	kstatus OBJECT.json   ->  {"status": "InProgress|Current|Failed|Terminating|...", "message": "...", "conditions": [...]}
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: kstatus OBJECT.json")
		os.Exit(2)
	}
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var u unstructured.Unstructured
	if err := u.UnmarshalJSON(raw); err != nil {
		fmt.Fprintln(os.Stderr, "object:", err)
		os.Exit(1)
	}
	res, err := status.Compute(&u)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(1)
	}
	enc, _ := json.Marshal(map[string]interface{}{"status": res.Status.String(), "message": res.Message, "conditions": res.Conditions})
	fmt.Println(string(enc))
}
