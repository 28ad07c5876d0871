// Token pieces as a person reads them: byte tokens (<0x0A>) as the byte, SentencePiece's '▁' as a
// space, and byte-level BPE's printable stand-ins (GPT-2's bytes_to_unicode: 'Ġ' for space, 'Ċ' for
// newline) mapped back to bytes and decoded as UTF-8. Text only: never HTML.

let byteDecoder: Map<string, number> | null = null;

/** Inverse of GPT-2's bytes_to_unicode (Radford et al. 2019, encoder.py): character -> byte. */
function gpt2ByteDecoder(): Map<string, number> {
  if (byteDecoder) return byteDecoder;
  const m = new Map<string, number>();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    m.set(String.fromCodePoint(printable ? b : 256 + n++), b);
  }
  byteDecoder = m;
  return m;
}

const utf8 = new TextDecoder('utf-8');

export function displayPiece(piece: string, tokenizerKind: string | undefined): string {
  const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
  if (byte) {
    const b = parseInt(byte[1], 16);
    if (b === 10) return '\n';
    if (b === 9) return '\t';
    if (b === 13) return '\r';
    if (b >= 32 && b < 127) return String.fromCharCode(b);
    return piece;
  }
  if (piece.includes('\u2581')) return piece.replace(/\u2581/g, ' ');
  if (tokenizerKind === 'byte-level-bpe' || tokenizerKind === 'hf-tokenizer-json') {
    const dec = gpt2ByteDecoder();
    const bytes: number[] = [];
    for (const ch of piece) {
      const b = dec.get(ch);
      if (b === undefined) return piece;
      bytes.push(b);
    }
    return utf8.decode(new Uint8Array(bytes));
  }
  return piece;
}

/** A one-line label for a piece (whitespace made visible), for chart axes and tooltips. */
export function pieceLabel(piece: string, tokenizerKind: string | undefined): string {
  // Special tokens such as llama2.c's "\n<s>\n" read best as just "<s>".
  if (/^\s*<\/?[a-z|_]+[^>]*>\s*$/i.test(piece) && !/^<0x[0-9A-Fa-f]{2}>$/.test(piece)) return piece.trim();
  return displayPiece(piece, tokenizerKind).replace(/\n/g, '↵').replace(/\t/g, '⇥').replace(/\r/g, '␍').replace(/ /g, '·');
}
