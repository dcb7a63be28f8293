// fmserve command-line entry point: parses arguments into option structs and dispatches to cmd_*.cpp.
// Every failure ends as one "fmserve: error: ..." line on stderr and exit code 1.
#include <CLI/CLI.hpp>
#include <iostream>
#include <sstream>

#include "cli/commands.h"

namespace {

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || v < 0 || v > INT32_MAX)
      throw std::invalid_argument("--tokens: '" + item + "' is not a token id");
    ids.push_back(static_cast<int32_t>(v));
  }
  return ids;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fmserve: self-hosted Foundation Models service"};
  app.require_subcommand(1);

  fm::cli::InspectOptions inspect;
  auto* inspect_cmd = app.add_subcommand("inspect", "Print a GGUF file's metadata and tensor table");
  inspect_cmd->add_option("model", inspect.model, "GGUF file")->required();
  inspect_cmd->add_option("--max-items", inspect.max_items, "Array items shown per metadata value");
  inspect_cmd->add_option("--dump-tensor", inspect.dump_tensor, "Print an F32/F16 tensor as JSON {name, dims, values}");

  fm::cli::RunOptions run;
  auto* run_cmd = app.add_subcommand("run", "Generate a continuation of a prompt");
  run_cmd->add_option("-m,--model", run.model, "GGUF model file")->required();
  run_cmd->add_option("-p,--prompt", run.prompt, "Prompt text")->required();
  run_cmd->add_option("--mmproj", run.mmproj, "Projector GGUF (mmproj-*.gguf) for --image");
  run_cmd->add_option("--image", run.images, "Image file (repeatable), at the prompt's <__media__> markers or before it");
  run_cmd->add_option("-n,--n-predict", run.n_predict, "Tokens to generate");
  run_cmd->add_option("--temp", run.sampling.temperature, "Temperature (0 = greedy)");
  run_cmd->add_option("--top-k", run.sampling.top_k, "Top-k (0 = off)");
  run_cmd->add_option("--top-p", run.sampling.top_p, "Top-p (1 = off)");
  run_cmd->add_option("--min-p", run.sampling.min_p, "Min-p (0 = off)");
  run_cmd->add_option("--seed", run.sampling.seed, "Sampling seed");
  run_cmd->add_option("-t,--threads", run.threads, "Threads (default: all cores)");
  run_cmd->add_option("--kv-type", run.kv_type, "KV cache element type: f16 (default) or f32");

  fm::cli::LogitsOptions logits;
  std::string token_list;
  auto* logits_cmd = app.add_subcommand("logits", "Evaluate token ids; write logits and/or continue greedily");
  logits_cmd->add_option("-m,--model", logits.model, "GGUF model file")->required();
  auto* tokens_opt = logits_cmd->add_option("--tokens", token_list, "Comma-separated token ids");
  auto* mmproj_opt = logits_cmd->add_option("--mmproj", logits.mmproj, "Projector GGUF (mmproj-*.gguf) for --image");
  logits_cmd->add_option("--image", logits.images, "Image file (repeatable); needs --mmproj and --prompt")->needs(mmproj_opt);
  auto* prompt_opt = logits_cmd->add_option("--prompt", logits.prompt, "Text with <__media__> at each image's place");
  logits_cmd->add_option("--embd-out", logits.embd_output, "Write the image embeddings f32 [n_image_tokens x n_embd]");
  tokens_opt->excludes(prompt_opt);
  logits_cmd->add_option("-o,--output", logits.output, "Write f32 logits [positions x vocab] here");
  logits_cmd->add_option("--greedy", logits.greedy, "Print N greedy continuation ids as JSON");
  logits_cmd->add_option("-t,--threads", logits.threads, "Threads (default: all cores)");
  logits_cmd->add_option("--kv-type", logits.kv_type, "KV cache element type: f16 (default) or f32");
  logits_cmd->add_flag("--embeddings", logits.embeddings, "Write hidden states after the final norm [positions x n_embd]");
  logits_cmd->add_flag("--non-causal", logits.non_causal, "With --embeddings: bidirectional attention");

  fm::cli::EmbedOptions embed;
  std::string embed_tokens;
  auto* embed_cmd = app.add_subcommand("embed", "Print the pooled embedding of a text or of token ids");
  embed_cmd->add_option("-m,--model", embed.model, "GGUF model file")->required();
  auto* embed_text = embed_cmd->add_option("--text", embed.text, "Text (tokenized with the model's special tokens)");
  embed_cmd->add_option("--tokens", embed_tokens, "Comma-separated token ids, used as given");
  embed_cmd->add_option("--pooling", embed.pooling, "mean, last or cls (default: the file's, else mean)");
  embed_cmd->add_flag("--non-causal", embed.non_causal, "Bidirectional attention over the input");
  embed_cmd->add_flag("--normalize", embed.normalize, "L2-normalise the embedding");
  embed_cmd->add_option("-t,--threads", embed.threads, "Threads (default: all cores)");
  embed_cmd->add_option("--kv-type", embed.kv_type, "KV cache element type: f16 (default) or f32");

  fm::cli::ClassifyOptions classify;
  auto* classify_cmd = app.add_subcommand("classify", "Few-shot classification of a text; prints the scored token ids too");
  classify_cmd->add_option("-m,--model", classify.model, "GGUF model file")->required();
  classify_cmd->add_option("--task", classify.task, "Task description");
  classify_cmd->add_option("--label", classify.labels, "A label (repeat for each)")->required();
  classify_cmd->add_option("--text", classify.text, "Text to classify")->required();
  classify_cmd->add_option("--sample", classify.samples, "An example as TEXT=LABEL (repeatable)");
  classify_cmd->add_option("--chat-template", classify.chat_template, "Template file when the GGUF has none");
  classify_cmd->add_option("-t,--threads", classify.threads, "Threads (default: all cores)");
  classify_cmd->add_option("--kv-type", classify.kv_type, "KV cache element type: f16 (default) or f32");

  fm::cli::TokenizeOptions tokenize;
  auto* tokenize_cmd = app.add_subcommand("tokenize", "Print the token ids of a text");
  tokenize_cmd->add_option("-m,--model", tokenize.model, "GGUF model file, Hugging Face tokenizer.json, or a CLIP tokenizer folder (vocab.json + merges.txt)")->required();
  auto* text_opt = tokenize_cmd->add_option("--text", tokenize.text, "Text to tokenize");
  tokenize_cmd->add_option("--file", tokenize.file, "File whose contents to tokenize");
  tokenize_cmd->add_option("--jsonl", tokenize.jsonl, "One JSON string per line; prints one id array per line");
  tokenize_cmd->add_flag("--with-text", tokenize.with_text, "With --jsonl: print {\"ids\":[...],\"text\":decoded} per line");
  tokenize_cmd->add_flag("--special", tokenize.special,
                         "Recognise special tokens in the text and add BOS/EOS as the tokenizer does");

  fm::cli::TemplateOptions tmpl;
  auto* template_cmd = app.add_subcommand("template", "Render a chat template for OpenAI-format messages");
  template_cmd->add_option("--template", tmpl.template_file, "Jinja chat template file");
  template_cmd->add_option("-m,--model", tmpl.model, "GGUF model, tokenizer.json or tokenizer_config.json");
  template_cmd->add_option("--messages", tmpl.messages, "JSON file with the messages array")->required();
  template_cmd->add_option("--tools", tmpl.tools, "JSON file with the tools array");
  template_cmd->add_flag("--add-generation-prompt", tmpl.add_generation_prompt, "Open an assistant turn at the end");
  template_cmd->add_option("--kwargs", tmpl.kwargs, "JSON object of extra template variables");
  template_cmd->add_option("--bos-token", tmpl.bos_token, "bos_token for --template (default empty)");
  template_cmd->add_option("--eos-token", tmpl.eos_token, "eos_token for --template (default empty)");

  fm::cli::GrammarCheckOptions grammar;
  auto* grammar_cmd = app.add_subcommand("grammar", "Structured-output grammars");
  grammar_cmd->require_subcommand(1);
  auto* grammar_check = grammar_cmd->add_subcommand(
      "check", "Walk the token-mask matcher of a JSON Schema over documents; one JSON line per document");
  grammar_check->add_option("-m,--model", grammar.model, "GGUF model (vocabulary-only files too) or tokenizer.json")->required();
  grammar_check->add_option("--schema", grammar.schema, "JSON Schema file (a --jsonl line may carry its own \"schema\")");
  grammar_check->add_option("--document", grammar.document, "The document's file (its exact bytes)");
  grammar_check->add_option("--jsonl", grammar.jsonl, "Cases, one {\"document\": TEXT[, \"schema\": S]} per line");
  grammar_check->add_flag("--no-masks", grammar.no_masks, "Only walk the matcher (no mask per token)");
  grammar_check->add_flag("--mask-times", grammar.mask_times, "Print every mask's time in microseconds");

  fm::cli::KeysOptions keys;
  auto* keys_cmd = app.add_subcommand("keys", "Manage folders' API keys");
  keys_cmd->require_subcommand(1);
  auto* keys_create = keys_cmd->add_subcommand("create", "Create a key; prints the secret once, on the last line");
  keys_create->add_option("--data-dir", keys.data_dir, "Data directory")->required();
  keys_create->add_option("--folder", keys.folder, "Folder the key belongs to")->required();
  keys_create->add_option("--scope", keys.scopes, "Scope (repeatable; default yc.ai.foundationModels.execute)");
  keys_create->add_option("--expires-in", keys.expires_in, "Lifetime, e.g. 30d, 12h, 3600s");
  auto* keys_list = keys_cmd->add_subcommand("list", "List keys (never their secrets)");
  keys_list->add_option("--data-dir", keys.data_dir, "Data directory")->required();
  auto* keys_revoke = keys_cmd->add_subcommand("revoke", "Revoke a key by its secret or id");
  keys_revoke->add_option("--data-dir", keys.data_dir, "Data directory")->required();
  keys_revoke->add_option("key", keys.key, "The secret or the key id")->required();

  fm::cli::ServeOptions serve;
  fm::cli::WorkflowRunOptions workflow_run;
  auto* workflow_cmd = app.add_subcommand("workflow", "Workflows (YaWL documents)");
  workflow_cmd->require_subcommand(1);
  auto* workflow_run_cmd = workflow_cmd->add_subcommand("run", "Run a YaWL document once, printing each step as it finishes");
  workflow_run_cmd->add_option("file", workflow_run.file, "YaWL document (YAML or JSON)")->required();
  workflow_run_cmd->add_option("--input", workflow_run.input, "The execution's input (JSON)");
  workflow_run_cmd->add_option("--config", workflow_run.config, "YAML configuration with the models the steps call");
  workflow_run_cmd->add_option("--folder", workflow_run.folder, "Folder of the model URIs (default: default)");
  workflow_run_cmd->add_option("-t,--threads", workflow_run.threads, "Compute threads per model (default: all cores)");

  auto* serve_cmd = app.add_subcommand("serve", "Serve the OpenAI-compatible API");
  serve_cmd->add_option("--config", serve.config, "YAML configuration with the models")->required();
  serve_cmd->add_option("--data-dir", serve.data_dir, "Data directory (API keys)");
  serve_cmd->add_option("--host", serve.host, "Address to listen on");
  serve_cmd->add_option("--port", serve.port, "Port (0 = any free port)");
  serve_cmd->add_option("-t,--threads", serve.threads, "Compute threads per model (default: all cores)");
  serve_cmd->add_option("--max-body-bytes", serve.max_body_bytes, "Request body limit (default 32 MiB)");

  fm::cli::BatchRunOptions batch;
  auto* batch_cmd = app.add_subcommand("batch", "Batch work");
  batch_cmd->require_subcommand(1);
  auto* batch_run = batch_cmd->add_subcommand("run", "Generate for every row of a JSON Lines file; resumable after an interruption");
  batch_run->add_option("--config", batch.config, "YAML configuration with the models")->required();
  batch_run->add_option("--model", batch.model, "Model name in the configuration")->required();
  batch_run->add_option("--branch", batch.branch, "Model branch (default latest)");
  batch_run->add_option("--input", batch.input, "Rows {\"request\":[{\"role\":…,\"text\":…}]}, one per line")->required();
  batch_run->add_option("--output", batch.output, "Rows {request, response} (or {request, error}) in input order")->required();
  batch_run->add_option("--state", batch.state, "Progress kept for resuming (default OUTPUT.state)");
  batch_run->add_option("--max-tokens", batch.max_tokens, "Tokens generated per row (default: to the end of the context)");
  batch_run->add_option("--temperature", batch.temperature, "Sampling temperature (default 0: greedy)");
  batch_run->add_option("--lines-in-flight", batch.lines_in_flight, "Rows generated at once");
  batch_run->add_option("-t,--threads", batch.threads, "Compute threads (default: all cores)");
  batch_run->add_option("--progress", batch.progress, "auto, bar, lines or none");

  fm::cli::BenchOptions bench;
  auto* bench_cmd = app.add_subcommand("bench", "Measure prompt and generation speed");
  bench_cmd->add_option("-m,--model", bench.model, "GGUF model file")->required();
  bench_cmd->add_option("-t,--threads", bench.threads, "Threads (default: all cores)");
  bench_cmd->add_option("--pp", bench.pp, "Prompt tokens (default 512)");
  bench_cmd->add_option("--tg", bench.tg, "Generated tokens (default 128)");
  bench_cmd->add_option("--concurrency", bench.concurrency, "Concurrent sequences through the scheduler");
  bench_cmd->add_flag("--json", bench.json, "Only the JSON line");
  bench_cmd->add_flag("--profile", bench.profile,
                      "Also time each stage of the layers (matmuls by tensor, attention, norms, rope, activations, "
                      "logits), the thread pool's barriers and sampling, per decode token and per prompt pass");
  bench_cmd->add_option("--embed", bench.embed_texts, "Embedding throughput over these texts (one per line)");
  bench_cmd->add_option("--batch", bench.embed_batch, "With --embed: tokens per forward pass (default 2048)");
  bench_cmd->add_option("--mmproj", bench.mmproj, "Image encode speed with this projector (needs --image)");
  bench_cmd->add_option("--image", bench.image, "With --mmproj: the image to encode");
  bench_cmd->add_option("--repeat", bench.repeat, "With --mmproj: encodings timed (default 3)");

  fm::cli::ImagineOptions imagine;
  auto* imagine_cmd = app.add_subcommand("imagine", "Generate an image from text with a Stable Diffusion checkpoint");
  imagine_cmd->add_option("-m,--model", imagine.model, "Checkpoint (.safetensors or .gguf, SD 1.x or 2.x)")->required();
  imagine_cmd->add_option("-p,--prompt", imagine.prompt, "Prompt");
  imagine_cmd->add_option("-n,--negative-prompt", imagine.negative_prompt, "Negative prompt (used when --cfg > 1)");
  imagine_cmd->add_option("--tokens-file", imagine.tokens_file, "The prompt's token ids (whitespace-separated) instead of -p");
  imagine_cmd->add_option("--tokenizer", imagine.tokenizer,
                          "Folder with the CLIP vocab.json and merges.txt (default: beside the checkpoint, or its tokenizer/)");
  imagine_cmd->add_option("--seed", imagine.seed, "Seed of the initial noise (default 42)");
  imagine_cmd->add_option("--steps", imagine.steps, "Sampling steps (default 20)");
  imagine_cmd->add_option("-W,--width", imagine.width, "Width, a multiple of 64 (default 512)");
  imagine_cmd->add_option("-H,--height", imagine.height, "Height, a multiple of 64 (default 512)");
  imagine_cmd->add_option("--cfg", imagine.cfg, "Classifier-free guidance scale; 1 = no negative branch (default 7)");
  imagine_cmd->add_option("--sampler", imagine.sampler, "euler, euler_a or dpmpp2m (default euler)");
  imagine_cmd->add_option("--prediction", imagine.prediction, "eps, v or auto (default: SD 1.x eps; SD 2.x decided as stable-diffusion.cpp does)");
  imagine_cmd->add_option("--rng", imagine.rng, "Noise generator: cuda (Philox, as stable-diffusion.cpp and the web UIs)");
  imagine_cmd->add_option("-o,--output", imagine.output, "Output image (.png or .jpg)")->required();
  imagine_cmd->add_option("--dump", imagine.dump, "Write every stage's tensor into this folder (the fixtures' names)");
  imagine_cmd->add_option("-t,--threads", imagine.threads, "Threads (default: all cores)");
  imagine_cmd->add_option("--progress", imagine.progress, "auto (a bar on a terminal), bar, lines or none");

  fm::cli::SynthOptions synth;
  auto* model_cmd = app.add_subcommand("model", "Model files");
  model_cmd->require_subcommand(1);
  auto* synth_cmd = model_cmd->add_subcommand("synth", "Write a random-weight model with a real model's shapes and types");
  synth_cmd->add_option("--arch", synth.arch, "Architecture (checked against the shape)");
  synth_cmd->add_option("--shape", synth.shape, "qwen2.5-0.5b, qwen2.5-1.5b, qwen3-0.6b, llama-3.2-1b, gemma3-1b, bge-small, tiny-qwen3, tiny-bert; "
                         "projectors: gemma3-siglip-896, qwen2.5-vl-7b-vit; diffusion checkpoints (safetensors): sd1.5, sd1-fixture, sd2.1, sd2-small")->required();
  synth_cmd->add_option("--text-width", synth.text_width, "Projectors: the text model's width they write (default: the real model's)");
  synth_cmd->add_option("--type", synth.type, "F16, Q8_0, Q4_0, Q4_K_M, Q6_K (diffusion checkpoints: F32 or F16, default F32; Q8_0 into a .gguf)");
  synth_cmd->add_option("-o,--output", synth.output, "Output file (GGUF; diffusion checkpoints: .safetensors, or .gguf)")->required();
  auto* synth_seed = synth_cmd->add_option("--seed", synth.seed, "Random seed (diffusion checkpoints: of the weight formula, default 0)");
  synth_cmd->add_option("--classifier-labels", synth.classifier_labels, "Add a classification head with these labels")
      ->delimiter(',');
  synth_cmd->add_flag("--multi-label", synth.multi_label, "The head's labels are independent (sigmoid)");
  synth_cmd->add_option("--pooling", synth.pooling, "Write <arch>.pooling_type: mean, cls or last");
  synth_cmd->add_option("--vocab", synth.vocab, "Take the tokenizer (and vocabulary size) of this GGUF, e.g. a vocab-only file");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    if (*inspect_cmd) return fm::cli::run_inspect(inspect);
    if (*run_cmd) return fm::cli::run_generate(run);
    if (*template_cmd) return fm::cli::run_template(tmpl);
    if (*serve_cmd) return fm::cli::run_serve(serve);
    if (*workflow_run_cmd) return fm::cli::run_workflow(workflow_run);
    if (*bench_cmd) {
      if (!bench.mmproj.empty()) return fm::cli::run_image_bench(bench);
      return bench.embed_texts.empty() ? fm::cli::run_bench(bench) : fm::cli::run_embed_bench(bench);
    }
    if (*synth_cmd) {
      synth.seed_given = synth_seed->count() > 0;
      return fm::cli::run_synth(synth);
    }
    if (*imagine_cmd) return fm::cli::run_imagine(imagine);
    if (*keys_cmd) {
      keys.action = *keys_create ? "create" : *keys_list ? "list" : "revoke";
      return fm::cli::run_keys(keys);
    }
    if (*grammar_check) return fm::cli::run_grammar_check(grammar);
    if (*tokenize_cmd) {
      tokenize.text_given = text_opt->count() > 0;
      return fm::cli::run_tokenize(tokenize);
    }
    if (*classify_cmd) return fm::cli::run_classify(classify);
    if (*batch_run) return fm::cli::run_batch(batch);
    if (*embed_cmd) {
      embed.text_given = embed_text->count() > 0;
      if (!embed_tokens.empty()) embed.tokens = parse_ids(embed_tokens);
      return fm::cli::run_embed(embed);
    }
    if (*logits_cmd) {
      if (!logits.mmproj.empty()) return fm::cli::run_image_logits(logits);
      if (token_list.empty()) throw std::invalid_argument("logits needs --tokens (or --mmproj, --image and --prompt)");
      logits.tokens = parse_ids(token_list);
      return fm::cli::run_logits(logits);
    }
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << "fmserve: error: " << e.what() << std::endl;
    return 1;
  }
  return 1;
}
