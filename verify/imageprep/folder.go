package imageprep

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Folder is an image folder as torchvision's ImageFolder reads it: each
// sub-folder of the root is a class, its images (at any depth) belong to
// it, and classes are numbered in the sorted order of the sub-folders'
// names. Images directly under the root, with no sub-folder, have no
// class.
type Folder struct {
	Root    string
	Classes []string // the sub-folders' names, sorted; empty: no classes
	Items   []Item   // sorted by class, then path
}

// Item is one image of a folder.
type Item struct {
	Path  string
	Class int // index into Classes, -1 when the folder has no classes
}

// MaxFolderImages bounds the images one folder may list (their paths
// are held; the images are not).
const MaxFolderImages = 1 << 22

// MaxFolderDepth bounds how deep the walk goes.
const MaxFolderDepth = 64

// ErrNoImages is returned for a folder with no image files.
var ErrNoImages = errors.New("no image files (" + strings.Join(Extensions, " ") + ")")

// ScanFolder lists a folder's images. Symbolic links to folders are not
// followed (a link can make a cycle); links to files are read, as any file,
// only if they lead to a regular file. Files with other endings are
// skipped, as ImageFolder skips them; a root with both images and
// sub-folders of images is refused, since ImageFolder would ignore the
// root's own images.
func ScanFolder(root string) (*Folder, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", root)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	f := &Folder{Root: root}
	var loose []string
	for _, e := range entries {
		switch {
		case e.IsDir():
			f.Classes = append(f.Classes, e.Name())
		case isImage(e.Name()):
			loose = append(loose, filepath.Join(root, e.Name()))
		}
	}
	sort.Strings(f.Classes)
	var classed [][]string
	n := len(loose)
	for _, c := range f.Classes {
		var paths []string
		if err := walk(filepath.Join(root, c), 1, &paths, n); err != nil {
			return nil, err
		}
		sort.Strings(paths)
		classed = append(classed, paths)
		n += len(paths)
	}
	switch {
	case n == 0:
		return nil, ErrNoImages
	case n > MaxFolderImages:
		return nil, fmt.Errorf("more than %d images", MaxFolderImages)
	case len(loose) > 0 && len(loose) < n:
		return nil, fmt.Errorf("%d images lie beside the class folders: an image folder holds either class folders (one per class) or images alone", len(loose))
	}
	if len(loose) > 0 {
		f.Classes = nil
		sort.Strings(loose)
		for _, p := range loose {
			f.Items = append(f.Items, Item{Path: p, Class: -1})
		}
		return f, nil
	}
	// an empty sub-folder keeps its number, as ImageFolder numbers every
	// sub-folder
	for c, paths := range classed {
		for _, p := range paths {
			f.Items = append(f.Items, Item{Path: p, Class: c})
		}
	}
	return f, nil
}

func walk(dir string, depth int, paths *[]string, have int) error {
	if depth > MaxFolderDepth {
		return fmt.Errorf("%s: folders nested more than %d deep", dir, MaxFolderDepth)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		switch {
		case e.IsDir():
			if err := walk(p, depth+1, paths, have); err != nil {
				return err
			}
		case e.Type()&fs.ModeSymlink != 0:
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && isImage(e.Name()) {
				*paths = append(*paths, p)
			}
		case e.Type().IsRegular() && isImage(e.Name()):
			*paths = append(*paths, p)
		}
		if have+len(*paths) > MaxFolderImages {
			return fmt.Errorf("more than %d images", MaxFolderImages)
		}
	}
	return nil
}

func isImage(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	for _, e := range Extensions {
		if ext == e {
			return true
		}
	}
	return false
}
