//! A WordPiece tokenizer trained on the training reports, for students trained from scratch
//! (BERT conventions: lowercase, `[CLS] text [SEP]`, `[PAD]` = 0).

use anyhow::Context;
use tokenizers::models::wordpiece::{WordPiece, WordPieceTrainer};
use tokenizers::normalizers::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, Tokenizer, TokenizerImpl};

const SPECIAL_TOKENS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

/// Trains a WordPiece vocabulary of at most `vocab_size` tokens on `texts` and returns the
/// `tokenizer.json` text. `tokenizers` breaks ties between equally frequent merges in hash
/// order, so two trainings can differ in rare subwords: a run keeps its `tokenizer.json`.
pub fn train_wordpiece(texts: &[String], vocab_size: usize) -> anyhow::Result<String> {
    let mut trainer: WordPieceTrainer = WordPieceTrainer::builder()
        .vocab_size(vocab_size)
        .min_frequency(2)
        .show_progress(false)
        .special_tokens(SPECIAL_TOKENS.iter().map(|token| AddedToken::from(*token, true)).collect())
        .build();
    let mut tokenizer: TokenizerImpl<
        WordPiece,
        BertNormalizer,
        BertPreTokenizer,
        TemplateProcessing,
        tokenizers::decoders::wordpiece::WordPiece,
    > = TokenizerImpl::new(WordPiece::builder().unk_token("[UNK]".to_owned()).build().map_err(anyhow::Error::msg)?);
    tokenizer.with_normalizer(Some(BertNormalizer::default())).map_err(anyhow::Error::msg)?;
    tokenizer.with_pre_tokenizer(Some(BertPreTokenizer));
    tokenizer.with_decoder(Some(tokenizers::decoders::wordpiece::WordPiece::default()));
    tokenizer.train(&mut trainer, texts.iter()).map_err(anyhow::Error::msg).context("training the vocabulary")?;
    let id = |token: &str| tokenizer.token_to_id(token).with_context(|| format!("{token} is not in the vocabulary"));
    let template = TemplateProcessing::builder()
        .try_single("[CLS] $A [SEP]")
        .map_err(anyhow::Error::msg)?
        .special_tokens(vec![("[CLS]", id("[CLS]")?), ("[SEP]", id("[SEP]")?)])
        .build()?;
    tokenizer.with_post_processor(Some(template));
    let tokenizer: Tokenizer = tokenizer.into();
    serde_json::to_string(&tokenizer).context("serializing the tokenizer")
}

#[cfg(test)]
mod tests {
    use super::*;
    use cxr_labeler::ReportTokenizer;

    #[test]
    fn a_trained_vocabulary_loads_in_the_runtime() {
        let texts: Vec<String> =
            (0..50).map(|i| format!("Stable cardiomegaly {i}. No pleural effusion. Small pneumothorax.")).collect();
        let json = train_wordpiece(&texts, 200).expect("trains");
        let tokenizer = ReportTokenizer::from_bytes(json.as_bytes(), 64).expect("the runtime loads it");
        let windows = tokenizer.windows("Stable cardiomegaly.").expect("tokenizes");
        assert_eq!(windows.len(), 1);
        assert!(windows[0].len() >= 4, "[CLS] + words + [SEP]: {:?}", windows[0]);
        assert_eq!(tokenizer.pad_id(), 0);
    }
}
