// The tokenizer contract shared by every loader: encode text to ids and back.

export interface EncodeOptions {
  /** Prepend BOS. Default: the tokenizer's own default (Llama: yes; byte-level GPT-2 models: no). */
  addBos?: boolean;
}

export interface Tokenizer {
  readonly kind: 'sentencepiece-bpe' | 'byte-level-bpe' | 'hf-tokenizer-json';
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly addBosDefault: boolean;
  encode(text: string, opts?: EncodeOptions): number[];
  /** Decode ids to text (special tokens such as BOS dropped). */
  decode(ids: number[]): string;
  /** The raw vocabulary string of one id (for token views). */
  piece(id: number): string;
}
