package pipeline

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// The problem+json body of every answer the gateway gives itself (a
// denial, a failure, an upstream error), the same bytes from the reverse
// proxy and every front door.

// problem is an RFC 9457 problem document. It deliberately carries nothing
// an attacker could use: no reason detail, no scheme, no validation message.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	RequestID string `json:"request_id"`
}

var details = map[int]string{
	http.StatusBadRequest:                   "The request is malformed.",
	http.StatusUnauthorized:                 "Valid credentials are required.",
	http.StatusForbidden:                    "The credentials do not permit this request.",
	http.StatusNotFound:                     "No such resource.",
	http.StatusMethodNotAllowed:             "The method is not allowed for this resource.",
	http.StatusRequestHeaderFieldsTooLarge:  "Request headers are too large.",
	http.StatusInternalServerError:          "The gateway could not decide on this request.",
	http.StatusBadGateway:                   "The upstream service failed.",
	http.StatusServiceUnavailable:           "A service the gateway depends on is unavailable.",
	http.StatusGatewayTimeout:               "The upstream service did not answer in time.",
	http.StatusMisdirectedRequest:           "The request was sent to the wrong host for this connection.",
	http.StatusRequestEntityTooLarge:        "The request body is too large.",
	http.StatusTooManyRequests:              "Too many requests.",
	http.StatusUnsupportedMediaType:         "Unsupported media type.",
	http.StatusRequestedRangeNotSatisfiable: "",
}

// WriteProblem writes an application/problem+json answer.
func WriteProblem(w http.ResponseWriter, status int, title, requestID string) {
	body := ProblemBody(status, title, requestID)
	SetProblemHeaders(w.Header(), len(body))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// ProblemBody is the problem document of a status; the front doors send the
// same bytes as the proxy.
func ProblemBody(status int, title, requestID string) []byte {
	if title == "" {
		title = http.StatusText(status)
	}
	body, _ := json.Marshal(problem{
		Type:      "about:blank",
		Title:     title,
		Status:    status,
		Detail:    details[status],
		RequestID: requestID,
	})
	return body
}

// SetProblemHeaders are the headers of a problem document of n bytes.
func SetProblemHeaders(h http.Header, n int) {
	h.Set("Content-Type", "application/problem+json")
	h.Set("Content-Length", strconv.Itoa(n))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}
