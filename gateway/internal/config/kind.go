package config

// KindInfo says what gatehouse does with one apiVersion group and kind.
type KindInfo struct {
	// NewSpec returns a fresh envelope for the kind's typed decode; nil
	// means the kind is known but deliberately ignored (IgnoreWhy says why).
	NewSpec   func() Holder
	IgnoreWhy string
	// Err is set when the document cannot be used at all (an apiVersion
	// of a known group that no Istio release had).
	Err string
	// OnlyName, when set, restricts the kind to resources of that name;
	// others are skipped (of all ConfigMaps, only "istio" matters).
	OnlyName string
}

// Kinds looks up what to do with a document by its apiVersion and kind;
// nil means the kind is not one gatehouse knows, and the document is
// skipped with a note.
type Kinds func(apiVersion, kind string) *KindInfo

// Spec returns the decoder of a kind whose spec decodes into T.
func Spec[T any]() func() Holder {
	return func() Holder { return &Envelope[T]{} }
}
