//! Record shapes: the sequence of keys a record's fields have, remembered for the last few
//! shapes seen.
//!
//! Records from one source share their keys, and a logstore usually mixes a handful of
//! sources (an access log, an application's JSON, syslog). Work that depends only on the
//! keys (finding each key's column, tokenizing the keys) is done once per shape and looked
//! up for every other record of that shape. Comparing shapes compares key bytes, so a hit
//! is never wrong; the cache only decides how often the work is redone.

use cairn_model::Field;

/// How many shapes are remembered (replaced round robin).
const SHAPES: usize = 8;

/// Whether two field lists have the same keys in the same order.
pub(crate) fn same_keys(a: &[Field], b: &[Field]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.key == y.key)
}

/// The last [`SHAPES`] key sequences seen, each with what was worked out for it.
#[derive(Debug)]
pub(crate) struct ShapeCache<'r, T> {
    entries: Vec<(&'r [Field], T)>,
    next: usize,
}

impl<T> Default for ShapeCache<'_, T> {
    fn default() -> Self {
        ShapeCache {
            entries: Vec::with_capacity(SHAPES),
            next: 0,
        }
    }
}

impl<'r, T> ShapeCache<'r, T> {
    /// What was stored for the shape of `fields`, if it is remembered.
    pub(crate) fn get(&self, fields: &[Field]) -> Option<&T> {
        self.entries
            .iter()
            .find(|(shape, _)| same_keys(shape, fields))
            .map(|(_, value)| value)
    }

    /// Remembers `value` for the shape of `fields`, forgetting the oldest shape if full.
    pub(crate) fn insert(&mut self, fields: &'r [Field], value: T) {
        self.insert_at(fields, value);
    }

    /// What is stored for the shape of `fields`, made by `make` and remembered if the shape
    /// is not.
    pub(crate) fn get_or_insert_with(
        &mut self,
        fields: &'r [Field],
        make: impl FnOnce() -> T,
    ) -> &T {
        let at = match self
            .entries
            .iter()
            .position(|(shape, _)| same_keys(shape, fields))
        {
            Some(at) => at,
            None => self.insert_at(fields, make()),
        };
        &self.entries[at].1
    }

    fn insert_at(&mut self, fields: &'r [Field], value: T) -> usize {
        if self.entries.len() < SHAPES {
            self.entries.push((fields, value));
            self.entries.len() - 1
        } else {
            let at = self.next;
            self.entries[at] = (fields, value);
            self.next = (at + 1) % SHAPES;
            at
        }
    }

    /// Forgets every shape.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.next = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(keys: &[&str]) -> Vec<Field> {
        keys.iter().map(|key| Field::new(key, "v")).collect()
    }

    #[test]
    fn shapes_are_found_by_their_keys_and_the_oldest_is_forgotten() {
        let shapes: Vec<Vec<Field>> = (0..=SHAPES)
            .map(|n| fields(&["a", &format!("k{n}")]))
            .collect();
        let mut cache = ShapeCache::default();
        for (n, shape) in shapes.iter().take(SHAPES).enumerate() {
            cache.insert(shape, n);
        }
        // Another record with the same keys (and other values) finds the shape.
        let same = vec![Field::new("a", "x"), Field::new("k3", "y")];
        assert_eq!(cache.get(&same), Some(&3));
        assert_eq!(cache.get(&fields(&["a"])), None);
        assert_eq!(cache.get(&fields(&["k3", "a"])), None, "order matters");
        cache.insert(&shapes[SHAPES], SHAPES);
        assert_eq!(cache.get(&shapes[0]), None, "the oldest is replaced");
        assert_eq!(cache.get(&shapes[SHAPES]), Some(&SHAPES));
        assert_eq!(cache.get(&shapes[1]), Some(&1));
        assert_eq!(*cache.get_or_insert_with(&shapes[1], || 99), 1);
        assert_eq!(*cache.get_or_insert_with(&shapes[0], || 42), 42);
        assert_eq!(cache.get(&shapes[0]), Some(&42));
        cache.clear();
        assert_eq!(cache.get(&shapes[1]), None);
    }
}
