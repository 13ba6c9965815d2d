//! The cell-list neighbour search against an O(N²) brute force with explicit enumeration of
//! periodic images.

use concord::neighbors::{neighbor_list, NeighborList};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

type Pair = (usize, usize, [i32; 3]);

fn pairs(l: &NeighborList) -> Vec<Pair> {
    assert_eq!(l.first.len(), l.second.len());
    assert_eq!(l.first.len(), l.shifts.len());
    (0..l.len())
        .map(|p| (l.first[p], l.second[p], l.shifts[p]))
        .collect()
}

fn inverse(cell: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let m = nalgebra::Matrix3::from_fn(|r, c| cell[r][c]);
    let inv = m.try_inverse().expect("test cell is invertible");
    std::array::from_fn(|r| std::array::from_fn(|c| inv[(r, c)]))
}

/// |r|² with r = pos[j] - pos[i] + S·cell, summed in the documented order.
fn dist2(pos: &[[f64; 3]], cell: &[[f64; 3]; 3], i: usize, j: usize, s: [i32; 3]) -> f64 {
    (0..3)
        .map(|x| {
            let r = (pos[j][x] - pos[i][x])
                + f64::from(s[0]) * cell[0][x]
                + f64::from(s[1]) * cell[1][x]
                + f64::from(s[2]) * cell[2][x];
            r * r
        })
        .sum()
}

/// Every (i, j, S) within the cutoff: all atom pairs, and for each pair every image whose
/// fractional separation could be within the cutoff (plus a margin of one image).
fn brute_force(
    pos: &[[f64; 3]],
    cell: Option<&[[f64; 3]; 3]>,
    pbc: [bool; 3],
    cutoff: f64,
) -> Vec<Pair> {
    let zero = [[0.0; 3]; 3];
    let periodic = pbc.iter().any(|&p| p);
    let cell = if periodic { *cell.unwrap() } else { zero };
    let (inv, spacing) = if periodic {
        let inv = inverse(&cell);
        let h: [f64; 3] = std::array::from_fn(|d| {
            1.0 / (0..3).map(|k| inv[k][d] * inv[k][d]).sum::<f64>().sqrt()
        });
        (inv, h)
    } else {
        (zero, [1.0; 3])
    };
    let frac: Vec<[f64; 3]> = pos
        .iter()
        .map(|p| std::array::from_fn(|d| (0..3).map(|k| p[k] * inv[k][d]).sum()))
        .collect();
    let mut out = Vec::new();
    for i in 0..pos.len() {
        for j in 0..pos.len() {
            let mut range = [(0i32, 0i32); 3];
            for d in 0..3 {
                if pbc[d] {
                    let delta = frac[j][d] - frac[i][d];
                    let reach = cutoff / spacing[d];
                    range[d] = (
                        (-delta - reach).floor() as i32 - 1,
                        (-delta + reach).ceil() as i32 + 1,
                    );
                }
            }
            for s0 in range[0].0..=range[0].1 {
                for s1 in range[1].0..=range[1].1 {
                    for s2 in range[2].0..=range[2].1 {
                        let s = [s0, s1, s2];
                        if i == j && s == [0; 3] {
                            continue;
                        }
                        if dist2(pos, &cell, i, j, s) < cutoff * cutoff {
                            out.push((i, j, s));
                        }
                    }
                }
            }
        }
    }
    out.sort_unstable();
    out
}

/// Runs both searches and checks equality, ordering, symmetry and zero shifts along open
/// directions; returns the number of pairs.
fn check(pos: &[[f64; 3]], cell: Option<&[[f64; 3]; 3]>, pbc: [bool; 3], cutoff: f64) -> usize {
    let fast = pairs(&neighbor_list(pos, cell, pbc, cutoff).unwrap());
    let slow = brute_force(pos, cell, pbc, cutoff);
    assert!(
        fast.windows(2).all(|w| w[0] < w[1]),
        "sorted, no duplicates"
    );
    assert_eq!(
        fast.len(),
        slow.len(),
        "pair count (pbc {pbc:?}, cutoff {cutoff})"
    );
    assert_eq!(fast, slow);
    let set: std::collections::HashSet<Pair> = fast.iter().copied().collect();
    for &(i, j, s) in &fast {
        assert!(set.contains(&(j, i, [-s[0], -s[1], -s[2]])), "symmetric");
        for d in 0..3 {
            assert!(pbc[d] || s[d] == 0, "shift along an open direction");
        }
    }
    fast.len()
}

fn random_positions(rng: &mut ChaCha8Rng, n: usize, lo: f64, hi: f64) -> Vec<[f64; 3]> {
    (0..n)
        .map(|_| std::array::from_fn(|_| rng.gen_range(lo..hi)))
        .collect()
}

/// Random positions with fractional coordinates in `[lo, hi)` of `cell`.
fn random_in_cell(
    rng: &mut ChaCha8Rng,
    n: usize,
    cell: &[[f64; 3]; 3],
    lo: f64,
    hi: f64,
) -> Vec<[f64; 3]> {
    (0..n)
        .map(|_| {
            let s: [f64; 3] = std::array::from_fn(|_| rng.gen_range(lo..hi));
            std::array::from_fn(|x| (0..3).map(|d| s[d] * cell[d][x]).sum())
        })
        .collect()
}

const ALL_PBC: [[bool; 3]; 4] = [
    [true, true, true],
    [true, true, false],
    [false, true, false],
    [false, false, false],
];

#[test]
fn random_open_clusters() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for (n, size, cutoff) in [
        (2, 3.0, 2.5),
        (50, 8.0, 3.0),
        (200, 15.0, 4.0),
        (300, 6.0, 1.0),
    ] {
        let pos = random_positions(&mut rng, n, -size, size);
        let found = check(&pos, None, [false; 3], cutoff);
        assert!(found > 0 || n == 2);
    }
    // A flat (2D) and a linear (1D) cluster: zero extent along some axes.
    let flat: Vec<[f64; 3]> = random_positions(&mut rng, 100, 0.0, 10.0)
        .into_iter()
        .map(|p| [p[0], p[1], 0.0])
        .collect();
    assert!(check(&flat, None, [false; 3], 2.0) > 0);
    let line: Vec<[f64; 3]> = (0..30).map(|i| [0.0, 0.0, 0.7 * i as f64]).collect();
    assert_eq!(check(&line, None, [false; 3], 1.0), 58);
}

#[test]
fn orthorhombic_boxes() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let cell = [[9.0, 0.0, 0.0], [0.0, 11.0, 0.0], [0.0, 0.0, 13.5]];
    for pbc in ALL_PBC {
        let pos = random_in_cell(&mut rng, 150, &cell, 0.0, 1.0);
        for cutoff in [2.0, 4.0, 5.0] {
            assert!(check(&pos, Some(&cell), pbc, cutoff) > 0);
        }
    }
}

#[test]
fn strongly_triclinic_cells() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let cells = [
        [[6.0, 0.0, 0.0], [5.5, 3.0, 0.0], [5.0, 2.5, 2.8]],
        [[8.0, 0.0, 0.0], [-7.0, 4.0, 0.0], [3.0, -3.5, 4.0]],
        [[7.0, 1.0, 0.5], [6.9, 2.0, 0.3], [0.2, 0.3, 9.0]],
    ];
    for cell in &cells {
        for pbc in ALL_PBC {
            let pos = random_in_cell(&mut rng, 80, cell, 0.0, 1.0);
            assert!(check(&pos, Some(cell), pbc, 3.5) > 0);
        }
    }
}

#[test]
fn cell_smaller_than_cutoff() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let cells = [
        [[2.0, 0.0, 0.0], [0.0, 2.5, 0.0], [0.0, 0.0, 3.0]],
        [[2.0, 0.0, 0.0], [1.8, 1.0, 0.0], [0.5, 0.4, 1.5]],
    ];
    for cell in &cells {
        for pbc in ALL_PBC {
            let pos = random_in_cell(&mut rng, 5, cell, 0.0, 1.0);
            let n = check(&pos, Some(cell), pbc, 6.0);
            assert!(n > 0);
        }
    }
    // Self-images: one atom in a 2 Å cube with a 6 Å cutoff sees all images with
    // 0 < |S| < 3, i.e. every nonzero integer vector of squared length < 9.
    let cell = [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]];
    let expected = (-3i32..=3)
        .flat_map(|a| {
            (-3i32..=3).flat_map(move |b| (-3i32..=3).map(move |c| a * a + b * b + c * c))
        })
        .filter(|&r2| r2 > 0 && r2 < 9)
        .count();
    assert_eq!(
        check(&[[0.1, 0.2, 0.3]], Some(&cell), [true; 3], 6.0),
        expected
    );
}

#[test]
fn atoms_outside_the_cell() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let cells = [
        [[7.0, 0.0, 0.0], [0.0, 8.0, 0.0], [0.0, 0.0, 9.0]],
        [[6.0, 0.0, 0.0], [4.0, 5.0, 0.0], [-2.0, 1.5, 6.0]],
    ];
    for cell in &cells {
        for pbc in ALL_PBC {
            let pos = random_in_cell(&mut rng, 300, cell, -3.0, 4.0);
            assert!(check(&pos, Some(cell), pbc, 3.0) > 0);
        }
    }
    // An atom and its translate by a lattice vector coincide at shift (-1, 0, 0) from atom 0.
    let cell = &cells[0];
    let pos = [[1.0, 1.0, 1.0], [8.0, 1.0, 1.0]];
    let l = pairs(&neighbor_list(&pos, Some(cell), [true; 3], 0.5).unwrap());
    assert_eq!(l, vec![(0, 1, [-1, 0, 0]), (1, 0, [1, 0, 0])]);
}

#[test]
fn one_atom() {
    let cell = [[5.0, 0.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 5.0]];
    assert!(neighbor_list(&[[1.0, 2.0, 3.0]], None, [false; 3], 4.0)
        .unwrap()
        .is_empty());
    assert_eq!(check(&[[1.0, 2.0, 3.0]], Some(&cell), [true; 3], 4.0), 0);
    assert_eq!(check(&[[1.0, 2.0, 3.0]], Some(&cell), [true; 3], 5.5), 6);
    assert_eq!(
        check(&[[1.0, 2.0, 3.0]], Some(&cell), [true, false, false], 5.5),
        2
    );
    assert!(neighbor_list(&[], None, [false; 3], 1.0)
        .unwrap()
        .is_empty());
}

#[test]
fn two_thousand_atoms() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    // ~0.1 atoms/Å³, like condensed matter.
    let cell = [[27.0, 0.0, 0.0], [3.0, 27.0, 0.0], [-2.0, 1.0, 27.5]];
    let pos = random_in_cell(&mut rng, 2000, &cell, 0.0, 1.0);
    let n = check(&pos, Some(&cell), [true; 3], 5.0);
    assert!(n > 2000 * 20, "{n} pairs");
    let open = random_positions(&mut rng, 2000, 0.0, 27.0);
    assert!(check(&open, None, [false; 3], 4.0) > 0);
}
