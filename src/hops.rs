//! Topological distances: how many edges (bonds, or neighbour pairs) separate atoms from a set
//! of source atoms. Used for the generator's 1-3 and 1-4 edges, for the ghost atoms an engine's
//! local atoms can feel, and for connectivity checks.

/// The neighbours of each atom of a graph.
pub struct Adjacency(Vec<Vec<usize>>);

impl Adjacency {
    /// The graph of `n` atoms with `edges` (pairs of atom indices `< n`, either direction).
    pub fn new(n: usize, edges: impl IntoIterator<Item = (usize, usize)>) -> Adjacency {
        let mut adjacency = vec![Vec::new(); n];
        for (i, j) in edges {
            adjacency[i].push(j);
            adjacency[j].push(i);
        }
        Adjacency(adjacency)
    }

    /// Number of atoms.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for a graph without atoms.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The neighbours of atom `a`, in the order the edges were given.
    pub fn neighbors(&self, a: usize) -> &[usize] {
        &self.0[a]
    }

    /// Hop distance of every atom from the nearest of `sources`, searched breadth first up to
    /// `max_hops`; atoms farther away (or unreachable) get `usize::MAX`.
    pub fn hops(&self, sources: impl IntoIterator<Item = usize>, max_hops: usize) -> Vec<usize> {
        let mut hops = vec![usize::MAX; self.0.len()];
        let mut frontier: Vec<usize> = sources.into_iter().collect();
        for &s in &frontier {
            hops[s] = 0;
        }
        for h in 1..=max_hops {
            if frontier.is_empty() {
                break;
            }
            let mut next = Vec::new();
            for &i in &frontier {
                for &j in &self.0[i] {
                    if hops[j] == usize::MAX {
                        hops[j] = h;
                        next.push(j);
                    }
                }
            }
            frontier = next;
        }
        hops
    }

    /// The ring system of each atom: atoms joined by bonds that lie on a cycle share an index
    /// (fused and spiro rings form one system); `None` for an atom on no ring bond. Bridges
    /// (bonds on no cycle) are found by one depth-first search (Tarjan's low links), O(N).
    pub fn ring_systems(&self) -> Vec<Option<usize>> {
        let n = self.0.len();
        let (mut order, mut low) = (vec![usize::MAX; n], vec![0; n]);
        let mut bridges = std::collections::HashSet::new();
        let mut time = 0;
        for root in 0..n {
            if order[root] != usize::MAX {
                continue;
            }
            order[root] = time;
            low[root] = time;
            time += 1;
            // (atom, its parent in the search tree, the next neighbour to visit).
            let mut stack = vec![(root, usize::MAX, 0)];
            while let Some(top) = stack.last_mut() {
                let (v, parent) = (top.0, top.1);
                if let Some(&w) = self.0[v].get(top.2) {
                    top.2 += 1;
                    if w == parent {
                        continue;
                    }
                    if order[w] == usize::MAX {
                        order[w] = time;
                        low[w] = time;
                        time += 1;
                        stack.push((w, v, 0));
                    } else {
                        low[v] = low[v].min(order[w]);
                    }
                    continue;
                }
                stack.pop();
                if parent != usize::MAX {
                    low[parent] = low[parent].min(low[v]);
                    if low[v] > order[parent] {
                        bridges.insert((parent.min(v), parent.max(v)));
                    }
                }
            }
        }
        let mut system = vec![None; n];
        let mut next = 0;
        for start in 0..n {
            let on_ring = |a: usize, b: usize| !bridges.contains(&(a.min(b), a.max(b)));
            if system[start].is_some() || !self.0[start].iter().any(|&b| on_ring(start, b)) {
                continue;
            }
            system[start] = Some(next);
            let mut stack = vec![start];
            while let Some(a) = stack.pop() {
                for &b in &self.0[a] {
                    if system[b].is_none() && on_ring(a, b) {
                        system[b] = Some(next);
                        stack.push(b);
                    }
                }
            }
            next += 1;
        }
        system
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_systems_join_fused_rings_and_leave_chains_out() {
        // Two fused 4-rings (0-1-2-3, 2-3-4-5), a chain 5-6-7, a 3-ring 7-8-9 beyond it.
        let edges = [
            (0, 1),
            (1, 2),
            (2, 3),
            (3, 0),
            (2, 4),
            (4, 5),
            (5, 3),
            (5, 6),
            (6, 7),
            (7, 8),
            (8, 9),
            (9, 7),
        ];
        let s = Adjacency::new(11, edges).ring_systems();
        assert!(s[..6].iter().all(|&x| x == s[0] && x.is_some()));
        assert_eq!(s[6], None);
        assert!(s[7].is_some() && s[7] != s[0] && s[8] == s[7] && s[9] == s[7]);
        assert_eq!(s[10], None);
    }

    #[test]
    fn chain_distances_stop_at_the_limit() {
        let chain = Adjacency::new(6, [(0, 1), (2, 1), (2, 3), (3, 4)]);
        let far = usize::MAX;
        assert_eq!(chain.hops([0], 10), [0, 1, 2, 3, 4, far]);
        assert_eq!(chain.hops([0], 2), [0, 1, 2, far, far, far]);
        assert_eq!(chain.hops([0, 4], 10)[2], 2);
    }
}
