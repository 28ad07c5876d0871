// Token pieces as the token view shows them: SentencePiece byte tokens and '▁', GPT-2 byte-level
// stand-ins ('Ġ' space, 'Ċ' newline, multi-byte UTF-8 split over characters) decoded back to text.
import { describe, expect, it } from 'vitest';
import { displayPiece, pieceLabel } from '../../src/app/pieces.ts';

describe('token pieces', () => {
  it('SentencePiece: byte tokens and the word-boundary mark', () => {
    expect(displayPiece('<0x0A>', 'sentencepiece-bpe')).toBe('\n');
    expect(displayPiece('<0x41>', 'sentencepiece-bpe')).toBe('A');
    expect(displayPiece('<0xE2>', 'sentencepiece-bpe')).toBe('<0xE2>');
    expect(displayPiece('\u2581Once', 'sentencepiece-bpe')).toBe(' Once');
    expect(displayPiece(' upon', 'sentencepiece-bpe')).toBe(' upon');
  });

  it("byte-level BPE: GPT-2's bytes_to_unicode mapped back", () => {
    expect(displayPiece('Ġthe', 'byte-level-bpe')).toBe(' the'); // Ġ = U+0120 = 256 + 32
    expect(displayPiece('Ċ', 'byte-level-bpe')).toBe('\n'); // Ċ = U+010A = 256 + 10
    // 'é' is UTF-8 C3 A9; both bytes are printable stand-ins of themselves: 'Ã' (C3) '©' (A9)
    expect(displayPiece('Ã©', 'byte-level-bpe')).toBe('é');
    expect(displayPiece('abc', 'hf-tokenizer-json')).toBe('abc');
  });

  it('labels make whitespace visible', () => {
    expect(pieceLabel('Ġa', 'byte-level-bpe')).toBe('·a');
    expect(pieceLabel('<0x0A>', 'sentencepiece-bpe')).toBe('↵');
    expect(pieceLabel('\n<s>\n', 'sentencepiece-bpe')).toBe('<s>');
    expect(pieceLabel('<|endoftext|>', 'byte-level-bpe')).toBe('<|endoftext|>');
  });
});
