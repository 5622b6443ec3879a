//! Property tests: the control and relation parsers never panic, and what the control writer
//! produces parses back to the same stanzas.

use proptest::prelude::*;
use whittle_deb::control::{Stanza, parse_stanzas, stanzas_to_text};

fn field_name() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9-]{0,12}"
}

fn value() -> impl Strategy<Value = String> {
    // First line, then continuation lines (indented, non-blank).
    (
        "[ -~]{0,20}",
        proptest::collection::vec("[ \t][ -~]{0,10}[!-~]", 0..3),
    )
        .prop_map(|(first, conts)| {
            let mut v = first.trim().to_owned();
            for c in conts {
                v.push('\n');
                v.push_str(&c);
            }
            v
        })
}

fn stanza() -> impl Strategy<Value = Stanza> {
    proptest::collection::btree_map(
        field_name().prop_map(|n| n.to_ascii_lowercase()),
        value(),
        1..6,
    )
    .prop_map(|m| Stanza {
        fields: m.into_iter().collect(),
        line: 0,
    })
}

proptest! {
    #[test]
    fn control_never_panics(s in "\\PC{0,200}") {
        let _ = parse_stanzas("fuzz", &s);
    }

    #[test]
    fn control_never_panics_on_control_alphabet(s in "[A-Za-z:# \t\r\n.-]{0,200}") {
        if let Ok(stanzas) = parse_stanzas("fuzz", &s) {
            for st in &stanzas {
                prop_assert!(!st.fields.is_empty());
                prop_assert!(st.line >= 1);
            }
        }
    }

    #[test]
    fn relations_never_panic(s in "\\PC{0,100}") {
        let _ = whittle_deb::relation::parse_relations(&s);
        let _ = whittle_deb::relation::parse_relation_list(&s);
    }

    #[test]
    fn written_stanzas_parse_back(stanzas in proptest::collection::vec(stanza(), 0..4)) {
        let text = stanzas_to_text(&stanzas);
        let back = parse_stanzas("written", &text).unwrap();
        prop_assert_eq!(back.len(), stanzas.len());
        for (b, s) in back.iter().zip(&stanzas) {
            prop_assert_eq!(&b.fields, &s.fields);
        }
    }
}
