//! Items as read from the table, and the keys they live under. An item that lacks an
//! attribute or holds the wrong type was not written by this store (a hand edit,
//! another program, a newer schema): it is an error naming the table, the item and
//! the attribute, never a panic and never a silent default.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use trailguard_core::state::{stored, StoreError};

/// The sort key of the item that holds a first-seen key's or a window's counters.
pub(super) const META: &str = "#META";
pub(super) const FACT: &str = "#FACT";
pub(super) const SEEN: &str = "#SEEN";

/// `<PREFIX>#<scope>#<key>`, the key in its stored form (at most 256 bytes).
pub(super) fn pk(prefix: &str, scope: &str, key: &str) -> String {
    format!("{prefix}#{scope}#{}", stored(key))
}

/// The sort key of a first-seen value's order: 20 digits sort as the numbers do.
pub(super) fn q_sk(seq: i64) -> String {
    format!("Q#{seq:020}")
}

/// Where an item is, for error messages.
#[derive(Debug, Clone)]
pub(super) struct Loc {
    pub table: String,
    pub pk: String,
    pub sk: String,
}

pub(super) struct Item {
    loc: Loc,
    attrs: HashMap<String, AttributeValue>,
}

impl Item {
    pub fn new(loc: Loc, attrs: HashMap<String, AttributeValue>) -> Item {
        Item { loc, attrs }
    }

    pub fn malformed(&self, attr: &str, why: &str) -> StoreError {
        StoreError::Backend(format!(
            "DynamoDB table `{}`, item pk=`{}` sk=`{}`: attribute `{attr}` {why} \
             (not written by trailguard's DynamoDB store?)",
            self.loc.table, self.loc.pk, self.loc.sk
        ))
    }

    pub fn num(&self, attr: &str) -> Result<i64, StoreError> {
        match self.attrs.get(attr) {
            Some(AttributeValue::N(v)) => v
                .parse()
                .map_err(|_| self.malformed(attr, &format!("is `{v}`, not a whole number"))),
            Some(_) => Err(self.malformed(attr, "is not a number")),
            None => Err(self.malformed(attr, "is missing")),
        }
    }

    pub fn string(&self, attr: &str) -> Result<&str, StoreError> {
        match self.attrs.get(attr) {
            Some(AttributeValue::S(v)) => Ok(v),
            Some(_) => Err(self.malformed(attr, "is not a string")),
            None => Err(self.malformed(attr, "is missing")),
        }
    }

    pub fn bytes(&self, attr: &str) -> Result<&[u8], StoreError> {
        match self.attrs.get(attr) {
            Some(AttributeValue::B(v)) => Ok(v.as_ref()),
            Some(_) => Err(self.malformed(attr, "is not binary")),
            None => Err(self.malformed(attr, "is missing")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(attrs: &[(&str, AttributeValue)]) -> Item {
        Item::new(
            Loc {
                table: "t".into(),
                pk: "WIN#r#k".into(),
                sk: META.into(),
            },
            attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn wrong_or_missing_attributes_name_the_table_item_and_attribute() {
        let it = item(&[
            ("ver", AttributeValue::S("1".into())),
            ("n", AttributeValue::N("1.5".into())),
        ]);
        let e = it.num("ver").unwrap_err().to_string();
        assert!(
            e.contains("table `t`") && e.contains("pk=`WIN#r#k`") && e.contains("`ver`"),
            "{e}"
        );
        assert!(it.num("n").unwrap_err().to_string().contains("1.5"));
        assert!(it.bytes("ev").unwrap_err().to_string().contains("missing"));
    }

    #[test]
    fn keys_hold_the_stored_form_and_order_as_numbers() {
        let long = "k".repeat(1000);
        assert!(pk("SEEN", "r", &long).starts_with("SEEN#r#sha256:"));
        assert!(q_sk(9) < q_sk(10));
        assert_eq!(q_sk(0).len(), 22);
    }
}
