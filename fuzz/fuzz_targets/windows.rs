//! Long-report windowing (`sentence_spans` and `pack`) on arbitrary text, token places and
//! budgets: windows fit the budget and cover every token once, in order.
#![no_main]

use cxr_labeler::window::{TokenPlace, pack, sentence_spans};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, Vec<(u16, Option<u8>)>, u8)| {
    let (text, places, budget) = input;
    let spans = sentence_spans(text);
    let mut expected_start = 0;
    for span in &spans {
        assert_eq!(span.start, expected_start, "sentences are contiguous");
        assert!(span.end > span.start && text.is_char_boundary(span.end));
        expected_start = span.end;
    }
    assert_eq!(expected_start, text.len(), "sentences cover the text");

    // Token places in text order, as a tokenizer gives them (offsets non-decreasing, in range).
    let mut start = 0;
    let tokens: Vec<TokenPlace> = places
        .iter()
        .map(|&(step, word)| {
            start = (start + usize::from(step) % 8).min(text.len());
            TokenPlace { start, word: word.map(u32::from) }
        })
        .collect();
    let budget = usize::from(budget.max(1));
    let windows = pack(&tokens, &spans, budget);
    let mut next = 0;
    for window in &windows {
        assert_eq!(window.start, next, "windows are contiguous");
        assert!(window.end > window.start, "no empty window");
        assert!(window.end - window.start <= budget, "a window of {} tokens over {budget}", window.end - window.start);
        next = window.end;
    }
    assert_eq!(next, tokens.len(), "windows cover every token");
});
