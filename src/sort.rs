//! One stable sort for the whole crate, compiled once.
//!
//! Every `slice::sort_by` call site with its own element type or comparator (and every `collect()` into a
//! `BTreeMap`/`BTreeSet`, which sorts its input) instantiates the standard library's stable sort again: about
//! 3.5 KB of wasm each, 45 KB over the crate. Here the sorting runs once over indices with a `dyn` comparator, so
//! a call site adds only the small permutation step below. Hot paths over many rows (the query's `ORDER BY`) keep
//! the standard sort.

use std::cmp::Ordering;

/// Sorts `v` stably by `cmp`, like `slice::sort_by`.
pub fn sort_by<T>(v: &mut [T], mut cmp: impl FnMut(&T, &T) -> Ordering) {
    if v.len() < 2 {
        return;
    }
    let order = {
        let items: &[T] = v;
        order(items.len(), &mut |a, b| cmp(&items[a], &items[b]))
    };
    permute(v, order);
}

/// Sorts `v` stably by the key `key` gives, like `slice::sort_by_key`.
pub fn sort_by_key<T, K: Ord>(v: &mut [T], mut key: impl FnMut(&T) -> K) {
    sort_by(v, |a, b| key(a).cmp(&key(b)));
}

/// Sorts `v` and removes repeated values, like `sort` followed by `dedup`.
pub fn sort_dedup<T: Ord>(v: &mut Vec<T>) {
    sort_by(v, T::cmp);
    v.dedup();
}

/// The indices `0..n` in the stable order `cmp` gives: the one place the standard sort is instantiated.
fn order(n: usize, cmp: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| cmp(a, b));
    idx
}

/// Moves the element at `order[i]` to position `i`, following each cycle of the permutation once (O(n) swaps).
fn permute<T>(v: &mut [T], mut order: Vec<usize>) {
    const DONE: usize = usize::MAX;
    for start in 0..order.len() {
        let mut cur = start;
        while order[cur] != DONE {
            let src = order[cur];
            order[cur] = DONE;
            if src == start {
                break;
            }
            v.swap(cur, src);
            cur = src;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_stably_like_the_standard_sort() {
        // Pseudo-random pairs with many equal keys: the second field shows the order of equal keys is kept.
        let mut seed = 12345u64;
        for len in [0usize, 1, 2, 3, 7, 31, 200, 1000] {
            let v: Vec<(u8, usize)> = (0..len)
                .map(|i| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    ((seed >> 59) as u8, i)
                })
                .collect();
            let mut ours = v.clone();
            sort_by_key(&mut ours, |p| p.0);
            let mut std = v.clone();
            std.sort_by_key(|p| p.0);
            assert_eq!(ours, std, "len {len}");
        }
    }

    #[test]
    fn sort_dedup_removes_repeats() {
        let mut v = vec!["b".to_string(), "a".into(), "b".into(), "c".into(), "a".into()];
        sort_dedup(&mut v);
        assert_eq!(v, ["a", "b", "c"]);
    }
}
