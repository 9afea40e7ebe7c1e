package planner

import (
	"math"
	"sort"
	"strings"
	"unicode"
)

// fuzzyBest is the candidate PostgREST's hints would suggest for query:
// the fuzzy-set search they use (character 3-grams, else 2-grams, scored
// by cosine similarity; the best 50 rescored by edit distance; nothing
// under 0.33). An exact (case-insensitive) candidate wins outright. ""
// when nothing is close enough.
func fuzzyBest(candidates []string, query string) string {
	q := strings.ToLower(strings.TrimSpace(query))
	for _, c := range candidates {
		if strings.ToLower(strings.TrimSpace(c)) == q {
			return c
		}
	}
	for size := 3; size >= 2; size-- {
		if best := fuzzyAt(candidates, q, size); best != "" {
			return best
		}
	}
	return ""
}

type fuzzyScore struct {
	score float64
	cand  string
	norm  string
}

func fuzzyAt(candidates []string, q string, size int) string {
	qg := grams(q, size)
	qnorm := 0.0
	for _, n := range qg {
		qnorm += float64(n * n)
	}
	qnorm = math.Sqrt(qnorm)
	var found []fuzzyScore
	for _, c := range candidates {
		norm := strings.ToLower(strings.TrimSpace(c))
		cg := grams(norm, size)
		dot, cn := 0, 0
		for g, n := range cg {
			cn += n * n
			dot += n * qg[g]
		}
		if dot == 0 {
			continue
		}
		found = append(found, fuzzyScore{float64(dot) / (qnorm * math.Sqrt(float64(cn))), c, norm})
	}
	if len(found) == 0 {
		return ""
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].score > found[j].score })
	if len(found) > 50 {
		found = found[:50]
	}
	for i := range found {
		rq, rc := []rune(q), []rune(found[i].norm)
		found[i].score = 1 - float64(levenshtein(found[i].norm, q))/float64(max(len(rq), len(rc)))
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].score > found[j].score })
	if found[0].score < 0.33 {
		return ""
	}
	return found[0].cand
}

// grams counts the n-grams of s padded with '-', after dropping what is
// neither a letter, a digit, a comma nor a space.
func grams(s string, size int) map[string]int {
	var b strings.Builder
	b.WriteByte('-')
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == ',' || r == ' ' {
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

// closest is the candidate nearest to name by edit distance (the first of
// equals, so sort the candidates), or "" when none is similar enough to be
// a likely typo: PostgREST hints only at a similarity of 0.75 or more
// (1 - distance / length of the longer name), so that a hint does not
// reveal the names of unrelated objects.
func closest(candidates []string, name string) string {
	best, bestScore := "", 0.0
	for _, n := range candidates {
		a, b := strings.ToLower(n), strings.ToLower(name)
		longer := max(len([]rune(a)), len([]rune(b))) // levenshtein counts characters
		if longer == 0 {
			continue
		}
		score := 1 - float64(levenshtein(a, b))/float64(longer)
		if score > bestScore {
			best, bestScore = n, score
		}
	}
	if bestScore >= 0.75 {
		return best
	}
	return ""
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur := make([]int, len(rb)+1)
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(rb)]
}
