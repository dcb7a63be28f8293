// A deterministic multilingual corpus for tokenizer comparisons: every script and hard case the tokenizers meet.
const pools = {
  latin: ["Hello", "world", "The quick brown fox", "naïve café", "Äpfel", "straße", "Cửa Việt", "don't", "I'VE", "we'll", "they'd", "O'Neil"],
  cyrillic: ["нещо", "на", "Български", "Привет", "мир", "ЁЛКА", "съешь же ещё"],
  cjk: ["我想在", "apple", "工作", "天～", "東京都", "한국어", "日本語のテキスト", "ひらがな", "カタカナ"],
  arabic: ["مرحبا", "بالعالم", "العربية", "١٢٣٤"],
  devanagari: ["नमस्ते", "दुनिया", "हिन्दी", "क्षत्रिय"],
  emoji: ["🦙", "🚀", "😶‍🌫️", "👩‍👩‍👧‍👦", "🏳️‍🌈", "✅", "👍🏽", "🇺🇦", "❤️"],
  code: ["def f(x):\n    return x**2", "for (int i = 0; i < n; ++i) {", "}", "<div class=\"a\">", "a->b", "x != y && z", "#include <stdio.h>", "\tif x:\n\t\tpass", "$var = @list;", "`code`", "snake_case_name", "camelCaseName"],
  digits: ["3", "33", "333", "3333", "12345678", "3.14159", "1,000,000", "2025-11-22", "0x1F", "١٢٣"],
  space: [" ", "  ", "   ", "\t", "\n", "\n\n", "\n \n", " \t ", "\r\n", "    \n    ", "\u00a0", "\u3000"],
  punct: ["!", "?", "...", "!!!", "—", "«quoted»", "“smart”", "(", ")", "''''''", "```", "------", "=======", ";", "~"],
  lookalike: ["<|im_start", "<|im_end|", "|im_start|>", "<bos", "<eos>x", "< bos>", "<|begin_of_text", "<|eot_id|", "<start_of_turn", "<think", "</tool_call", "<0x0A>", "[INST]"],
};
const names = Object.keys(pools);

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

export function corpus(count = 2400, seed = 1) {
  const rand = rng(seed);
  const pick = (arr) => arr[Math.floor(rand() * arr.length)];
  const out = [""];
  for (const name of names) for (const s of pools[name]) out.push(s);  // every item alone
  while (out.length < count) {
    const parts = [];
    const n = 1 + Math.floor(rand() * 8);
    const focus = pick(names);
    for (let i = 0; i < n; i++) {
      const pool = rand() < 0.6 ? pools[focus] : pools[pick(names)];
      parts.push(pick(pool));
      const r = rand();
      parts.push(r < 0.6 ? " " : r < 0.7 ? "" : r < 0.8 ? "\n" : r < 0.9 ? "  " : pick(pools.space));
    }
    if (rand() < 0.1) parts.push(" ".repeat(1 + Math.floor(rand() * 40)));
    if (rand() < 0.05) parts.push("\n".repeat(1 + Math.floor(rand() * 10)));
    if (rand() < 0.05) parts.push("9".repeat(1 + Math.floor(rand() * 30)));
    out.push(parts.join(""));
  }
  return out;
}

export const specialSamples = [
  "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
  "<bos><start_of_turn>user\nhello<end_of_turn>\n",
  "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
  "text <think>reasoning</think> answer",
  "<tool_call>{\"a\":1}</tool_call>",
];
