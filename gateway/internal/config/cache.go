package config

import "crypto/sha256"

// Cache keeps each file's decoded documents from one load to the next, by
// the SHA-256 of its content (the content itself is not kept). Parsing
// YAML is the most expensive part of a load, so with 10 000
// VirtualServices a reload after editing one file parses one file. A
// resource of an unchanged file is the same pointer from load to load, so
// what was compiled from it can be cached by pointer too. It is used by
// one load at a time; a nil *Cache caches nothing.
type Cache struct {
	files map[string]cachedFile
}

type cachedFile struct {
	sum    [sha256.Size]byte
	result *fileResult
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{files: map[string]cachedFile{}}
}

// decoded returns the cached decoding of f if its content is unchanged.
// The resources get f.Data back for the lines of the problems this load
// finds; DropSource drops it again.
func (c *Cache) decoded(f File) *fileResult {
	if c == nil {
		return nil
	}
	e, ok := c.files[f.Path]
	if !ok || e.sum != f.Sum {
		return nil
	}
	for _, r := range e.result.resources {
		r.src = f.Data
	}
	return e.result
}

// keepFiles replaces the file cache with this load's files.
func (c *Cache) keepFiles(files []File, results []*fileResult) {
	if c == nil {
		return
	}
	c.files = make(map[string]cachedFile, len(files))
	for i, f := range files {
		c.files[f.Path] = cachedFile{sum: f.Sum, result: results[i]}
	}
}
