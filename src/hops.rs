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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_distances_stop_at_the_limit() {
        let chain = Adjacency::new(6, [(0, 1), (2, 1), (2, 3), (3, 4)]);
        let far = usize::MAX;
        assert_eq!(chain.hops([0], 10), [0, 1, 2, 3, 4, far]);
        assert_eq!(chain.hops([0], 2), [0, 1, 2, far, far, far]);
        assert_eq!(chain.hops([0, 4], 10)[2], 2);
    }
}
