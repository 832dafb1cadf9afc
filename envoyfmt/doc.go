// Package envoyfmt parses Envoy substitution format strings: the
// "%COMMAND(arg):N%" language of Envoy access log formats and header
// values, which Istio users write in meshConfig accessLogFormat and in
// VirtualService header operations.
//
// Parse turns a format string into segments, each literal text followed by
// at most one command operator. It checks the syntax and the arguments whose
// form Envoy fixes, but not the command names: which commands exist, and
// what value each stands for, is up to the caller, which binds every
// segment to a value source once, at configuration time. Segments are plain
// values; a TimeFormat is immutable and safe for concurrent use.
//
// # Grammar
//
//	format   = *( literal / "%%" / operator )
//	operator = "%" command [ "(" argument ")" ] [ ":" length ] "%"
//	command  = 1*( "A"-"Z" / "0"-"9" / "_" )
//	length   = [ "+" ] 1*DIGIT          ; a positive number of bytes
//
// "%%" stands for a literal '%'; any other '%' starts an operator. An
// argument is the shortest text followed by ")", an optional ":length",
// and "%" (Envoy's non-greedy rule, so a START_TIME format may itself hold
// '%' and ')'); it never spans a line break. The length truncates the
// value to that many bytes.
//
// Two kinds of argument have a fixed form and are checked and parsed:
//
//   - REQ, RESP and REQ_WITHOUT_QUERY take a header name and an optional
//     alternative, "X?Y": the value of header Y is used when X is absent.
//     A name is an HTTP token, or ':' followed by one (a pseudo-header).
//     Since a name cannot hold ')', the argument ends at the first ')'.
//   - START_TIME takes an optional strftime-like format (see TimeFormat);
//     without one, or with "()", Envoy's default applies.
//
// For header commands two older spellings are accepted too, because
// gatehouse's header values always accepted them: the length before the
// argument ("%REQ:5(X)%"), and text between the ')' and the closing '%'
// that holds no ':' or ')' (ignored: "%REQ(X)text%" is "%REQ(X)%").
package envoyfmt
