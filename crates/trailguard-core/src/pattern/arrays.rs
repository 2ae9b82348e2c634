//! Array-consistent matching: when the values a pattern relies on sit inside arrays,
//! they must come from the same element of every array they share.
//!
//! This is how event-ruler (the engine behind EventBridge) matches JSON events
//! (`rulesForJSONEvent`): `{"resources":{"type":["AWS::IAM::User"],"ARN":["...role/r"]}}`
//! does not match a user in one element and that role in another. AWS's own guide is
//! silent on it; we follow the engine, whose README documents it.
//!
//! Each field that matched only inside arrays brings its candidates: the array path
//! ([`ArrayStep`]s) of every leaf that satisfied it. The question is whether one
//! candidate per field can be chosen so that no two disagree on an array. Arrays nest
//! like the JSON, so this is solved top-down: fields meeting no common array are
//! independent; for a shared top array, try each element in turn. The work is bounded
//! by the candidates times the array depth for each element tried, never exponential.

use std::collections::BTreeMap;

use crate::json::ArrayStep;

/// One field's candidates: the array path of each leaf that satisfied it.
pub(super) type Candidates = Vec<Vec<ArrayStep>>;

pub(super) fn consistent(fields: &[Candidates]) -> bool {
    let views: Vec<Vec<&[ArrayStep]>> = fields
        .iter()
        .map(|c| c.iter().map(Vec::as_slice).collect())
        .collect();
    satisfiable(views)
}

fn satisfiable(mut fields: Vec<Vec<&[ArrayStep]>>) -> bool {
    if fields.iter().any(Vec::is_empty) {
        return false;
    }
    // A field with a candidate outside every remaining array constrains nothing.
    fields.retain(|cands| cands.iter().all(|c| !c.is_empty()));
    if fields.len() < 2 {
        return true;
    }
    components(fields).into_iter().all(component_satisfiable)
}

/// Splits fields into groups that share no top-level array (through any candidate).
/// An array's ancestors are always on a candidate's path, so sharing any array means
/// sharing the top one: comparing first steps is enough.
fn components(fields: Vec<Vec<&[ArrayStep]>>) -> Vec<Vec<Vec<&[ArrayStep]>>> {
    let mut group_of_array: BTreeMap<usize, usize> = BTreeMap::new();
    let mut parent: Vec<usize> = (0..fields.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for (i, cands) in fields.iter().enumerate() {
        for c in cands {
            let array = c[0].0;
            match group_of_array.get(&array) {
                Some(&j) => {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    parent[a] = b;
                }
                None => {
                    group_of_array.insert(array, i);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<Vec<&[ArrayStep]>>> = BTreeMap::new();
    for (i, cands) in fields.into_iter().enumerate() {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(cands);
    }
    groups.into_values().collect()
}

fn component_satisfiable(fields: Vec<Vec<&[ArrayStep]>>) -> bool {
    if fields.len() < 2 {
        return true;
    }
    let array = fields[0][0][0].0;
    // Per field: candidates elsewhere, and candidates through `array` by element.
    let mut elsewhere: Vec<Vec<&[ArrayStep]>> = Vec::with_capacity(fields.len());
    let mut by_element: Vec<BTreeMap<u32, Vec<&[ArrayStep]>>> = Vec::with_capacity(fields.len());
    for cands in &fields {
        let mut other = Vec::new();
        let mut through: BTreeMap<u32, Vec<&[ArrayStep]>> = BTreeMap::new();
        for c in cands {
            if c[0].0 == array {
                through.entry(c[0].1).or_default().push(&c[1..]);
            } else {
                other.push(*c);
            }
        }
        elsewhere.push(other);
        by_element.push(through);
    }
    let mut elements: Vec<u32> = by_element.iter().flat_map(|m| m.keys().copied()).collect();
    elements.sort_unstable();
    elements.dedup();
    elements.into_iter().any(|e| {
        let mut sub = Vec::with_capacity(fields.len());
        for (other, through) in elsewhere.iter().zip(&by_element) {
            let mut cands = other.clone();
            if let Some(inner) = through.get(&e) {
                cands.extend(inner.iter().copied());
            }
            if cands.is_empty() {
                return false;
            }
            sub.push(cands);
        }
        satisfiable(sub)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: usize = 1;
    const B: usize = 2;
    const C: usize = 3;

    #[test]
    fn same_element_or_not() {
        // resources[0].type, resources[1].ARN: split across elements.
        assert!(!consistent(&[vec![vec![(A, 0)]], vec![vec![(A, 1)]]]));
        assert!(consistent(&[
            vec![vec![(A, 0)], vec![(A, 1)]],
            vec![vec![(A, 1)]]
        ]));
        // Different arrays do not constrain each other.
        assert!(consistent(&[vec![vec![(A, 0)]], vec![vec![(B, 3)]]]));
    }

    #[test]
    fn nested_arrays() {
        // metrics[0].stat.dims[1] and metrics[0].stat.dims[0]: same outer element, inner
        // array shared only when both go through it.
        let f1 = vec![vec![(A, 0), (B, 1)]];
        let f2 = vec![vec![(A, 0), (C, 0)]];
        assert!(consistent(&[f1.clone(), f2]));
        let f3 = vec![vec![(A, 0), (B, 0)]];
        assert!(!consistent(&[f1.clone(), f3]));
        let f4 = vec![vec![(A, 1), (C, 0)]];
        assert!(!consistent(&[f1, f4]));
    }

    #[test]
    fn three_fields_need_a_common_element() {
        let f1 = vec![vec![(A, 0)], vec![(A, 1)]];
        let f2 = vec![vec![(A, 1)], vec![(A, 2)]];
        let f3 = vec![vec![(A, 2)], vec![(A, 0)]];
        assert!(!consistent(&[f1.clone(), f2.clone(), f3]));
        assert!(consistent(&[f1, f2, vec![vec![(A, 1)]]]));
    }

    #[test]
    fn big_arrays_stay_cheap() {
        let n = 20_000u32;
        let f1: Candidates = (0..n).map(|i| vec![(A, i)]).collect();
        let f2: Candidates = (0..n).map(|i| vec![(A, (i + 1) % n + n)]).collect();
        assert!(!consistent(&[f1.clone(), f2, f1.clone()]));
    }
}
