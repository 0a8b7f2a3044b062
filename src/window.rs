//! Splitting a report that is longer than the model's context into windows that fit.
//!
//! Pure index arithmetic over a tokenized report, so it can be tested (and fuzzed) without a
//! tokenizer: windows are built from whole sentences where possible, from whole words when a
//! single sentence is too long, and from raw token runs only when a single word is. Every token
//! ends up in exactly one window, in order: nothing is dropped.

use std::ops::Range;

/// Byte ranges of the sentences of `text`, in order, covering all of it.
///
/// A sentence ends after `.`, `!`, `?` or `;` followed by whitespace, and at every line break.
/// The returned ranges are contiguous: the first starts at 0, each starts where the previous one
/// ended, and the last ends at `text.len()` (an empty text has no sentence).
pub fn sentence_spans(text: &str) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((position, character)) = chars.next() {
        let next = chars.peek().map(|&(_, next)| next);
        let ends_sentence =
            character == '\n' || (matches!(character, '.' | '!' | '?' | ';') && next.is_some_and(char::is_whitespace));
        if ends_sentence {
            let end = position + character.len_utf8();
            spans.push(start..end);
            start = end;
        }
    }
    if start < text.len() {
        spans.push(start..text.len());
    }
    spans
}

/// What the packer needs to know about each token of a report (special tokens excluded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenPlace {
    /// Byte offset where the token starts in the report.
    pub start: usize,
    /// The word the token belongs to (tokens of one word share it), if the tokenizer knows.
    pub word: Option<u32>,
}

/// Groups tokens into windows of at most `budget` tokens each.
///
/// `tokens` are in text order; `sentences` are the report's sentence spans (see
/// [`sentence_spans`]). Returns contiguous token index ranges that together cover
/// `0..tokens.len()` exactly once, in order. Consecutive sentences share a window while they fit;
/// a sentence longer than `budget` is cut between words, and a word longer than `budget` is cut
/// between tokens.
///
/// # Panics
/// If `budget` is zero (a model whose `max_length` leaves no room for text is rejected when it is
/// loaded).
pub fn pack(tokens: &[TokenPlace], sentences: &[Range<usize>], budget: usize) -> Vec<Range<usize>> {
    assert!(budget > 0, "window budget must leave room for at least one token");
    let mut windows = Vec::new();
    let mut window_start = 0;
    for sentence in sentence_token_ranges(tokens, sentences) {
        if sentence.end - window_start <= budget {
            continue; // the sentence joins the open window
        }
        if sentence.start > window_start {
            windows.push(window_start..sentence.start);
            window_start = sentence.start;
        }
        if sentence.end - window_start > budget {
            window_start = split_long_sentence(tokens, sentence, budget, &mut windows);
        }
    }
    if window_start < tokens.len() {
        windows.push(window_start..tokens.len());
    }
    windows
}

/// Token index ranges of the sentences, covering `0..tokens.len()` contiguously. A token belongs
/// to the sentence where it starts; sentences without tokens (whitespace) are skipped.
fn sentence_token_ranges(tokens: &[TokenPlace], sentences: &[Range<usize>]) -> Vec<Range<usize>> {
    let mut ranges = Vec::with_capacity(sentences.len());
    let mut first = 0;
    for sentence in sentences {
        let end = first + tokens[first..].partition_point(|token| token.start < sentence.end);
        if end > first {
            ranges.push(first..end);
            first = end;
        }
    }
    if first < tokens.len() {
        ranges.push(first..tokens.len());
    }
    ranges
}

/// Cuts the token range `sentence` into windows of at most `budget` tokens, preferring cuts
/// between words. Pushes every window but the last and returns where the last one starts, so the
/// next sentence can still join it.
fn split_long_sentence(
    tokens: &[TokenPlace],
    sentence: Range<usize>,
    budget: usize,
    windows: &mut Vec<Range<usize>>,
) -> usize {
    let mut start = sentence.start;
    while sentence.end - start > budget {
        let limit = start + budget;
        // The last word boundary inside the budget, if any: a token that starts a new word.
        let cut = (start + 1..=limit)
            .rev()
            .find(|&index| tokens[index].word.is_none() || tokens[index].word != tokens[index - 1].word)
            .unwrap_or(limit);
        windows.push(start..cut);
        start = cut;
    }
    start
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)] // one-window results read best as `[0..n]`
mod tests {
    use super::*;

    /// One token per whitespace-separated word, with its byte offset.
    fn words(text: &str) -> Vec<TokenPlace> {
        let mut places = Vec::new();
        let mut word = 0;
        let mut in_word = false;
        for (position, character) in text.char_indices() {
            if character.is_whitespace() {
                in_word = false;
            } else if !in_word {
                places.push(TokenPlace { start: position, word: Some(word) });
                word += 1;
                in_word = true;
            }
        }
        places
    }

    fn assert_covers(windows: &[Range<usize>], count: usize, budget: usize) {
        let mut expected_start = 0;
        for window in windows {
            assert_eq!(window.start, expected_start, "windows {windows:?} leave a gap or overlap");
            assert!(window.end > window.start, "empty window in {windows:?}");
            assert!(window.len() <= budget, "window {window:?} exceeds budget {budget}");
            expected_start = window.end;
        }
        assert_eq!(expected_start, count, "windows {windows:?} do not cover all {count} tokens");
    }

    #[test]
    fn sentences_split_after_terminators_and_newlines() {
        let text = "No effusion. Mild cardiomegaly!\nLines: 1.5 cm; stable? yes";
        let pieces: Vec<&str> = sentence_spans(text).into_iter().map(|span| &text[span]).collect();
        assert_eq!(pieces, ["No effusion.", " Mild cardiomegaly!", "\n", "Lines: 1.5 cm;", " stable?", " yes"]);
        assert!(sentence_spans("").is_empty());
        assert_eq!(sentence_spans("no terminator"), [0..13]);
    }

    #[test]
    fn sentence_spans_handle_multibyte_text() {
        let text = "Épanchement pleural. Cardiomégalie… 心脏扩大。\nfin";
        let spans = sentence_spans(text);
        assert_eq!(spans.first().map(|span| span.start), Some(0));
        assert_eq!(spans.last().map(|span| span.end), Some(text.len()));
        for span in spans {
            assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
        }
    }

    #[test]
    fn whole_sentences_share_windows_while_they_fit() {
        let text = "a b c. d e. f g h i. j.";
        let tokens = words(text);
        let windows = pack(&tokens, &sentence_spans(text), 5);
        // Sentences have 3, 2, 4 and 1 words: [a b c d e] [f g h i j].
        assert_eq!(windows, [0..5, 5..10]);
        assert_covers(&windows, tokens.len(), 5);
    }

    #[test]
    fn a_report_that_fits_is_one_window() {
        let text = "Heart size normal. Lungs clear.";
        let tokens = words(text);
        assert_eq!(pack(&tokens, &sentence_spans(text), 64), [0..tokens.len()]);
    }

    #[test]
    fn a_long_sentence_is_cut_between_words() {
        // Two tokens per word (like word pieces); the budget of 5 must never split a word.
        let tokens: Vec<TokenPlace> =
            (0..12).map(|index| TokenPlace { start: index, word: Some(index as u32 / 2) }).collect();
        let windows = pack(&tokens, &[0..12], 5);
        assert_eq!(windows, [0..4, 4..8, 8..12]);
        assert_covers(&windows, 12, 5);
    }

    #[test]
    fn a_word_longer_than_the_budget_is_cut_between_tokens() {
        let tokens: Vec<TokenPlace> = (0..7).map(|index| TokenPlace { start: index, word: Some(0) }).collect();
        let windows = pack(&tokens, &[0..7], 3);
        assert_eq!(windows, [0..3, 3..6, 6..7]);
    }

    #[test]
    fn the_rest_of_a_long_sentence_can_share_a_window_with_the_next() {
        let text = "a b c d e f g. h.";
        let tokens = words(text);
        let windows = pack(&tokens, &sentence_spans(text), 3);
        assert_eq!(windows, [0..3, 3..6, 6..8]);
    }

    #[test]
    fn tokens_outside_every_sentence_are_kept() {
        let tokens = words("a b c");
        let windows = pack(&tokens, &[], 2);
        assert_covers(&windows, tokens.len(), 2);
        assert!(pack(&[], &[], 2).is_empty());
    }

    #[test]
    fn packing_covers_every_token_for_many_budgets() {
        let text = "Stable cardiomegaly. Small left effusion with adjacent atelectasis.\n\
                    Catheter tip in the SVC; no pneumothorax. A very long sentence without any \
                    terminator that keeps going on and on about the lungs and the pleura";
        let tokens = words(text);
        let sentences = sentence_spans(text);
        for budget in 1..=tokens.len() + 1 {
            assert_covers(&pack(&tokens, &sentences, budget), tokens.len(), budget);
        }
    }
}
