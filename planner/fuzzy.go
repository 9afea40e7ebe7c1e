package planner

import (
	"math"
	"sort"
	"strings"
	"unicode"
)

// Minimum scores of PostgREST's "Perhaps you meant" hints: names of tables
// and functions need a close match (a lower bar would reveal names), the
// parameters of a known function and relationship targets the fuzzy
// set's default.
const (
	nameHintScore  = 0.75
	otherHintScore = 0.33
)

// fuzzyBest is the candidate PostgREST's fuzzy set (gram sizes 3 then 2,
// cosine similarity of gram counts, the best 50 rescored by Levenshtein
// similarity) ranks first for query with at least minScore, "" if none.
// An exact match (ignoring case) scores 1.
func fuzzyBest(candidates []string, query string, minScore float64) string {
	m := fuzzyMatches(candidates, query, minScore)
	if len(m) == 0 {
		return ""
	}
	return m[0].name
}

type fuzzyMatch struct {
	score float64
	name  string
}

// fuzzyMatches lists the candidates scoring at least minScore, best first.
func fuzzyMatches(candidates []string, query string, minScore float64) []fuzzyMatch {
	q := strings.ToLower(query)
	for _, c := range candidates {
		if strings.ToLower(c) == q {
			return []fuzzyMatch{{1, c}}
		}
	}
	for size := 3; size >= 2; size-- {
		if m := fuzzyForSize(candidates, q, size, minScore); len(m) > 0 {
			return m
		}
	}
	return nil
}

func fuzzyForSize(candidates []string, q string, size int, minScore float64) []fuzzyMatch {
	qg := gramCounts(q, size)
	qn := norm(qg)
	var scored []fuzzyMatch
	for _, c := range candidates {
		cg := gramCounts(strings.ToLower(c), size)
		dot := 0
		for g, n := range qg {
			dot += n * cg[g]
		}
		if dot > 0 {
			scored = append(scored, fuzzyMatch{float64(dot) / (qn * norm(cg)), c})
		}
	}
	if len(scored) == 0 {
		return nil
	}
	sort.SliceStable(scored, func(i, j int) bool { return scored[i].score > scored[j].score })
	if len(scored) > 50 {
		scored = scored[:50]
	}
	for i := range scored {
		scored[i].score = similarity(strings.ToLower(scored[i].name), q)
	}
	sort.SliceStable(scored, func(i, j int) bool { return scored[i].score > scored[j].score })
	var out []fuzzyMatch
	for _, s := range scored {
		if s.score >= minScore {
			out = append(out, s)
		}
	}
	return out
}

// gramCounts counts the size-grams of s with only letters, digits, commas
// and spaces kept, padded with '-' on both sides.
func gramCounts(s string, size int) map[string]int {
	var b strings.Builder
	b.WriteByte('-')
	for _, r := range s {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) || r == ',' || r == ' ' || (r >= 0xC0 && r <= 0xFF) {
			b.WriteRune(r)
		}
	}
	b.WriteByte('-')
	rs := []rune(b.String())
	for len(rs) < size {
		rs = append(rs, '-')
	}
	out := map[string]int{}
	for i := 0; i+size <= len(rs); i++ {
		out[string(rs[i:i+size])]++
	}
	return out
}

func norm(v map[string]int) float64 {
	sum := 0
	for _, n := range v {
		sum += n * n
	}
	return math.Sqrt(float64(sum))
}

// similarity is 1 - Levenshtein distance / the longer length.
func similarity(a, b string) float64 {
	l := max(len([]rune(a)), len([]rune(b)))
	if l == 0 {
		return 1
	}
	return 1 - float64(levenshtein(a, b))/float64(l)
}
