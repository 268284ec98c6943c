"""Hugging Face Hub models in the demo catalog, with the licence each model card declares."""

from __future__ import annotations

from typing import Any

from modelmarket.catalog.demo.listings import Listing
from modelmarket.catalog.vocabulary import Source, Task


def huggingface_listing(
    external_id: str, name: str, task: str, license: str, commercial_use: bool, **fields: Any
) -> Listing:
    return Listing(Source.HUGGINGFACE, external_id, name, task, license, commercial_use, **fields)


_LLM_LIMITS = (
    "Can state false things fluently, reflects biases in its web-scale training data, and knows nothing after its "
    "training cut-off. Check facts and keep a human in the loop for consequential output."
)

CHAT = (
    huggingface_listing(
        "meta-llama/Llama-3.1-8B-Instruct",
        "Llama 3.1 8B Instruct",
        Task.CHAT,
        "llama3.1",
        True,
        summary="Meta's 8-billion-parameter instruction-tuned Llama 3.1: multilingual chat, 128k-token context, "
        "tool use.",
        description="Tuned with supervised fine-tuning and RLHF for assistant-style dialogue in eight languages "
        "(English, German, French, Italian, Portuguese, Hindi, Spanish, Thai), with a 128k-token context window "
        "and built-in tool calling.",
        intended_use="Assistants, retrieval-augmented question answering, drafting and summarizing, agents that call "
        "tools, where a small model keeps latency and cost low.",
        limitations=_LLM_LIMITS + " Weaker at multi-step reasoning than the 70B and 405B models.",
        tags=("llm", "llama", "meta", "multilingual", "tool-use"),
        popularity=5,
        featured=True,
    ),
    huggingface_listing(
        "meta-llama/Llama-3.1-70B-Instruct",
        "Llama 3.1 70B Instruct",
        Task.CHAT,
        "llama3.1",
        True,
        summary="Meta's 70B instruction-tuned Llama 3.1 for high-quality multilingual chat and reasoning, 128k "
        "context.",
        description="The larger sibling of Llama 3.1 8B Instruct: the same eight languages, 128k-token context and "
        "tool calling, with markedly better reasoning, coding and instruction following.",
        intended_use="Demanding assistants, coding help, long-document analysis and synthetic data generation.",
        limitations=_LLM_LIMITS
        + " Needs several GPUs to host; slower and costlier per token than small models.",
        tags=("llm", "llama", "meta", "multilingual", "reasoning"),
        popularity=4,
    ),
    huggingface_listing(
        "meta-llama/Llama-3.2-3B-Instruct",
        "Llama 3.2 3B Instruct",
        Task.CHAT,
        "llama3.2",
        True,
        summary="A 3B Llama 3.2 chat model for on-device and low-latency use: summarizing, rewriting, tool calls.",
        description="A lightweight multilingual model distilled from larger Llama models, tuned for dialogue, "
        "summarization and instruction following, with a 128k-token context.",
        intended_use="Mobile and edge assistants, summarizing messages, rewriting text, simple agents.",
        limitations=_LLM_LIMITS
        + " Small models hallucinate more and follow complex instructions less reliably.",
        tags=("llm", "llama", "meta", "small", "on-device"),
        popularity=4,
    ),
    huggingface_listing(
        "mistralai/Mistral-7B-Instruct-v0.3",
        "Mistral 7B Instruct v0.3",
        Task.CHAT,
        "apache-2.0",
        True,
        summary="Mistral AI's 7B instruction model (v0.3): extended 32k vocabulary and function calling.",
        description="An instruction fine-tune of Mistral 7B v0.3, which extends the vocabulary to 32,768 tokens and "
        "supports function calling.",
        intended_use="General chat, extraction and classification by prompting, function calling in small agents.",
        limitations=_LLM_LIMITS
        + " It has no moderation mechanism of its own; add guardrails for public use.",
        tags=("llm", "mistral", "function-calling"),
        popularity=5,
        featured=True,
    ),
    huggingface_listing(
        "mistralai/Mixtral-8x7B-Instruct-v0.1",
        "Mixtral 8x7B Instruct v0.1",
        Task.CHAT,
        "apache-2.0",
        True,
        summary="A sparse mixture-of-experts chat model: 47B parameters, about 13B active per token.",
        description="Eight expert feed-forward blocks per layer with two chosen per token, giving the quality of a "
        "much larger dense model at the speed of a ~13B one. Speaks English, French, Italian, German and Spanish.",
        intended_use="Chat, coding help and multilingual tasks where a 7B model is not enough.",
        limitations=_LLM_LIMITS + " All 47B parameters must be in memory even though few are active.",
        tags=("llm", "mistral", "mixture-of-experts", "multilingual"),
        popularity=4,
    ),
    huggingface_listing(
        "google/gemma-2-9b-it",
        "Gemma 2 9B IT",
        Task.CHAT,
        "gemma",
        True,
        summary="Google's Gemma 2 9B instruction-tuned model, built from the research behind Gemini.",
        description="A decoder-only model tuned for dialogue, question answering, summarization and reasoning, with "
        "an 8k-token context.",
        intended_use="Assistants, content drafting, summarization and research on responsible open models.",
        limitations=_LLM_LIMITS + " Trained mostly on English text; 8k tokens of context.",
        tags=("llm", "gemma", "google"),
        popularity=4,
        featured=True,
    ),
    huggingface_listing(
        "google/gemma-2-2b-it",
        "Gemma 2 2B IT",
        Task.CHAT,
        "gemma",
        True,
        summary="The 2B instruction-tuned Gemma 2: a capable chat model small enough for laptops and phones.",
        description="Distilled from larger Gemma 2 models; tuned for dialogue and instruction following.",
        intended_use="On-device assistants, classroom and hobby projects, quick prototyping.",
        limitations=_LLM_LIMITS + " Limited knowledge and reasoning for its size.",
        tags=("llm", "gemma", "google", "small", "on-device"),
        popularity=4,
    ),
    huggingface_listing(
        "Qwen/Qwen2.5-7B-Instruct",
        "Qwen2.5 7B Instruct",
        Task.CHAT,
        "apache-2.0",
        True,
        summary="Alibaba's Qwen2.5 7B chat model: strong at coding, maths and structured (JSON) output, 29+ "
        "languages.",
        description="Instruction-tuned Qwen2.5 with improved instruction following, long generation (8k tokens), "
        "structured output and a context of up to 128k tokens with YaRN scaling.",
        intended_use="Multilingual assistants, JSON extraction, coding and maths help.",
        limitations=_LLM_LIMITS,
        tags=("llm", "qwen", "multilingual", "json-output"),
        popularity=5,
        featured=True,
    ),
    huggingface_listing(
        "Qwen/Qwen2.5-72B-Instruct",
        "Qwen2.5 72B Instruct",
        Task.CHAT,
        "other",
        True,
        summary="The 72B flagship of the Qwen2.5 open family: top-tier open chat, coding and maths.",
        description="The largest Qwen2.5 instruction model, with 128k-token context and strong multilingual "
        "ability.",
        intended_use="High-quality assistants, complex reasoning, coding and analysis.",
        limitations=_LLM_LIMITS + " Needs several GPUs to host.",
        tags=("llm", "qwen", "multilingual", "reasoning"),
        popularity=4,
        license_note="Qwen License Agreement (Alibaba Cloud): commercial use allowed; services with over 100 million "
        "monthly active users need a licence from Alibaba Cloud.",
    ),
    huggingface_listing(
        "Qwen/Qwen2.5-Coder-7B-Instruct",
        "Qwen2.5 Coder 7B Instruct",
        Task.CHAT,
        "apache-2.0",
        True,
        summary="A 7B Qwen2.5 model specialized for code generation, reasoning about code and fixing it.",
        description="Trained on 5.5 trillion tokens including source code and text-code pairs; supports code "
        "completion, repair and explanation in many programming languages.",
        intended_use="Coding assistants, code review helpers and code-aware agents.",
        limitations="Generated code can be wrong or insecure: review and test it. " + _LLM_LIMITS,
        tags=("llm", "qwen", "code"),
        popularity=4,
    ),
    huggingface_listing(
        "microsoft/Phi-3.5-mini-instruct",
        "Phi-3.5 mini instruct",
        Task.CHAT,
        "mit",
        True,
        summary="Microsoft's 3.8B Phi-3.5 mini: strong reasoning for its size, 128k-token context.",
        description="Trained on synthetic and filtered public data focused on reasoning-dense content, then "
        "fine-tuned and preference-optimized.",
        intended_use="Memory- and latency-constrained settings, reasoning-heavy tasks (maths, logic), research.",
        limitations=_LLM_LIMITS
        + " Limited factual knowledge: pair it with retrieval for knowledge questions.",
        tags=("llm", "phi", "microsoft", "small"),
        popularity=4,
    ),
    huggingface_listing(
        "microsoft/phi-4",
        "Phi-4",
        Task.CHAT,
        "mit",
        True,
        summary="Microsoft's 14B Phi-4, trained heavily on synthetic data for reasoning and maths.",
        description="A dense 14B model with a 16k-token context, tuned for reasoning, logic and maths with "
        "supervised fine-tuning and direct preference optimization.",
        intended_use="Reasoning and maths assistants, research on small language models.",
        limitations=_LLM_LIMITS + " Mostly English; weaker at instruction-heavy creative tasks.",
        tags=("llm", "phi", "microsoft", "reasoning"),
        popularity=4,
    ),
    huggingface_listing(
        "HuggingFaceH4/zephyr-7b-beta",
        "Zephyr 7B beta",
        Task.CHAT,
        "mit",
        True,
        summary="A Mistral 7B fine-tune by Hugging Face's H4 team, aligned with direct preference optimization.",
        description="Fine-tuned on UltraChat and aligned with DPO on UltraFeedback; a well-known reference for "
        "preference-tuning recipes.",
        intended_use="Chat and research into alignment methods.",
        limitations=_LLM_LIMITS
        + " Not safety-aligned with RLHF; it can produce problematic text when prompted.",
        tags=("llm", "mistral", "dpo"),
        popularity=3,
    ),
    huggingface_listing(
        "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
        "DeepSeek R1 Distill Qwen 7B",
        Task.CHAT,
        "mit",
        True,
        summary="A 7B reasoning model: Qwen2.5-Math 7B fine-tuned on reasoning traces from DeepSeek-R1.",
        description="Thinks step by step before answering (the reasoning is part of the output), which helps on "
        "maths, coding and logic problems.",
        intended_use="Maths and coding problems, research into reasoning models.",
        limitations=_LLM_LIMITS
        + " Long reasoning makes answers slow and token-hungry; it can loop or ramble.",
        tags=("llm", "deepseek", "reasoning", "qwen"),
        popularity=4,
    ),
    huggingface_listing(
        "tiiuae/falcon-7b-instruct",
        "Falcon 7B Instruct",
        Task.CHAT,
        "apache-2.0",
        True,
        summary="TII's Falcon 7B fine-tuned on chat and instruction data.",
        description="Built on Falcon 7B, trained on RefinedWeb, and fine-tuned on a mix of chat and instruct "
        "datasets.",
        intended_use="Chat and instruction following in English and French; a baseline for research.",
        limitations=_LLM_LIMITS + " Older than most listings here and weaker than newer 7B models.",
        tags=("llm", "falcon"),
        popularity=2,
    ),
    huggingface_listing(
        "HuggingFaceTB/SmolLM2-1.7B-Instruct",
        "SmolLM2 1.7B Instruct",
        Task.CHAT,
        "apache-2.0",
        True,
        summary="Hugging Face's compact 1.7B chat model, trained on open, curated data.",
        description="Trained on 11 trillion tokens of curated web, code and maths data; instruction-tuned and "
        "preference-aligned.",
        intended_use="On-device assistants, rewriting and summarizing, teaching and experiments.",
        limitations=_LLM_LIMITS + " English only; limited knowledge and reasoning.",
        tags=("llm", "small", "on-device", "open-data"),
        popularity=3,
    ),
)

TEXT_GENERATION = (
    huggingface_listing(
        "meta-llama/Llama-3.1-8B",
        "Llama 3.1 8B (base)",
        Task.TEXT_GENERATION,
        "llama3.1",
        True,
        summary="The pretrained (not instruction-tuned) Llama 3.1 8B: continues text; the base for fine-tunes.",
        description="Pretrained on about 15 trillion tokens of public data, with a 128k-token context.",
        intended_use="Fine-tuning for your own tasks, completion-style generation, research.",
        limitations=_LLM_LIMITS + " Not tuned to follow instructions or chat.",
        tags=("llm", "llama", "meta", "base-model"),
        popularity=4,
    ),
    huggingface_listing(
        "mistralai/Mistral-7B-v0.1",
        "Mistral 7B v0.1 (base)",
        Task.TEXT_GENERATION,
        "apache-2.0",
        True,
        summary="Mistral AI's first 7B base model, with grouped-query and sliding-window attention.",
        description="At release it outperformed Llama 2 13B on most benchmarks; a popular base for fine-tunes.",
        intended_use="Fine-tuning, completion-style generation, research.",
        limitations=_LLM_LIMITS + " A base model: it continues text rather than following instructions.",
        tags=("llm", "mistral", "base-model"),
        popularity=4,
    ),
    huggingface_listing(
        "openai-community/gpt2",
        "GPT-2",
        Task.TEXT_GENERATION,
        "mit",
        True,
        summary="OpenAI's 2019 124M-parameter GPT-2: the classic small text generator for teaching and tests.",
        description="Trained on WebText (40 GB of pages linked from Reddit) to predict the next word.",
        intended_use="Teaching, tests and experiments, fine-tuning toy generators.",
        limitations="Often incoherent beyond a few sentences and reflects the biases of its training data; do not "
        "use it for anything factual.",
        tags=("llm", "gpt2", "classic"),
        popularity=5,
    ),
    huggingface_listing(
        "bigcode/starcoder2-15b",
        "StarCoder2 15B",
        Task.TEXT_GENERATION,
        "bigcode-openrail-m",
        True,
        summary="BigCode's 15B code model trained on The Stack v2 (600+ programming languages).",
        description="Trained on over 4 trillion tokens with fill-in-the-middle; a 16k-token context with "
        "sliding-window attention.",
        intended_use="Code completion and infilling, code search, fine-tuning code assistants.",
        limitations="Not an instruction model. Generated code can be wrong, insecure or close to training data: "
        "check licences and review.",
        tags=("llm", "code", "bigcode"),
        popularity=3,
    ),
    huggingface_listing(
        "Qwen/Qwen2.5-7B",
        "Qwen2.5 7B (base)",
        Task.TEXT_GENERATION,
        "apache-2.0",
        True,
        summary="The pretrained Qwen2.5 7B base model, multilingual with strong coding and maths.",
        description="Pretrained on up to 18 trillion tokens; 128k-token context.",
        intended_use="Fine-tuning and completion-style generation.",
        limitations=_LLM_LIMITS + " Not tuned for chat.",
        tags=("llm", "qwen", "base-model", "multilingual"),
        popularity=3,
    ),
)

TEXT_CLASSIFICATION = (
    huggingface_listing(
        "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
        "DistilBERT SST-2 sentiment",
        Task.TEXT_CLASSIFICATION,
        "apache-2.0",
        True,
        summary="Positive or negative sentiment of English text; DistilBERT fine-tuned on SST-2 (91.3% accuracy).",
        description="A distilled BERT, 40% smaller and 60% faster than BERT base, fine-tuned on the Stanford "
        "Sentiment Treebank.",
        intended_use="Sentiment of reviews, feedback and short English texts.",
        limitations="Binary only (no neutral); trained on movie reviews; known to show biases by country and "
        "identity terms.",
        tags=("sentiment", "distilbert", "english"),
        popularity=5,
        featured=True,
    ),
    huggingface_listing(
        "cardiffnlp/twitter-roberta-base-sentiment-latest",
        "Twitter RoBERTa sentiment (latest)",
        Task.TEXT_CLASSIFICATION,
        "cc-by-4.0",
        True,
        summary="Negative, neutral or positive sentiment of tweets: RoBERTa trained on ~124M tweets, tuned on "
        "TweetEval.",
        description="Cardiff NLP's TimeLMs RoBERTa base (tweets from 2018 to 2021) fine-tuned for sentiment.",
        intended_use="Social media monitoring and analysis of short informal English text.",
        limitations="English only; struggles with sarcasm; tweets' language drifts over time.",
        tags=("sentiment", "twitter", "roberta", "social-media"),
        popularity=5,
    ),
    huggingface_listing(
        "facebook/bart-large-mnli",
        "BART large MNLI (zero-shot)",
        Task.TEXT_CLASSIFICATION,
        "mit",
        True,
        summary="Zero-shot text classification with your own labels, via natural language inference.",
        description="BART large trained on MultiNLI; each candidate label becomes a hypothesis, and its entailment "
        "probability becomes the label's score.",
        intended_use="Classifying text into labels chosen at run time, without training data.",
        limitations="Slower than a dedicated classifier (one pass per label); English only; label wording matters.",
        tags=("zero-shot", "nli", "bart"),
        popularity=5,
    ),
    huggingface_listing(
        "unitary/toxic-bert",
        "Toxic BERT",
        Task.TEXT_CLASSIFICATION,
        "apache-2.0",
        True,
        summary="Flags toxic, obscene, threatening, insulting and identity-hating comments (Jigsaw challenge).",
        description="BERT trained on the Jigsaw Toxic Comment Classification data by Unitary's Detoxify project; "
        "multi-label output.",
        intended_use="Assisting content moderators and research on toxicity.",
        limitations="Can over-flag identity terms and miss implicit toxicity; keep humans in moderation decisions.",
        tags=("moderation", "toxicity", "bert"),
        popularity=4,
    ),
    huggingface_listing(
        "papluca/xlm-roberta-base-language-detection",
        "XLM-RoBERTa language detection",
        Task.TEXT_CLASSIFICATION,
        "mit",
        True,
        summary="Identifies the language of a text among 20 languages (99.6% accuracy on its test set).",
        description="XLM-RoBERTa base fine-tuned on the Language Identification dataset.",
        intended_use="Routing text by language, data cleaning.",
        limitations="Only 20 languages; very short or mixed-language texts are harder.",
        tags=("language-detection", "multilingual", "xlm-roberta"),
        popularity=3,
    ),
    huggingface_listing(
        "SamLowe/roberta-base-go_emotions",
        "RoBERTa GoEmotions",
        Task.TEXT_CLASSIFICATION,
        "mit",
        True,
        summary="Detects 28 emotions (admiration, joy, anger, neutral...) in English text; multi-label.",
        description="RoBERTa base trained on Google's GoEmotions dataset of Reddit comments.",
        intended_use="Emotion analysis of comments, feedback and conversations.",
        limitations="Rare emotions (grief, relief) are predicted poorly; Reddit language and labelling biases.",
        tags=("emotion", "roberta", "multi-label"),
        popularity=4,
    ),
    huggingface_listing(
        "nlptown/bert-base-multilingual-uncased-sentiment",
        "Multilingual review stars",
        Task.TEXT_CLASSIFICATION,
        "mit",
        True,
        summary="Predicts a 1-5 star rating for product reviews in English, Dutch, German, French, Spanish and "
        "Italian.",
        description="Multilingual BERT fine-tuned on product reviews.",
        intended_use="Scoring product reviews and customer feedback.",
        limitations="Exact star accuracy is modest (most errors are off by one); other domains transfer less well.",
        tags=("sentiment", "reviews", "multilingual", "bert"),
        popularity=4,
    ),
)

TOKEN_CLASSIFICATION = (
    huggingface_listing(
        "dslim/bert-base-NER",
        "BERT base NER",
        Task.TOKEN_CLASSIFICATION,
        "mit",
        True,
        summary="Finds persons, organizations, locations and miscellaneous entities in English text (CoNLL-2003).",
        description="BERT base cased fine-tuned on CoNLL-2003 named entity recognition.",
        intended_use="Entity extraction from news-like English text.",
        limitations="Trained on 1990s Reuters news; other domains and entity types need fine-tuning; subword "
        "splits may need merging.",
        tags=("ner", "bert", "english"),
        popularity=5,
        featured=True,
    ),
    huggingface_listing(
        "dslim/bert-large-NER",
        "BERT large NER",
        Task.TOKEN_CLASSIFICATION,
        "mit",
        True,
        summary="The larger CoNLL-2003 entity recognizer: persons, organizations, locations, miscellaneous.",
        description="BERT large cased fine-tuned on CoNLL-2003; a little more accurate and slower than the base "
        "model.",
        intended_use="Entity extraction from English text where accuracy matters more than speed.",
        limitations="Same domain limits as the base model: news-style English, four entity types.",
        tags=("ner", "bert", "english"),
        popularity=3,
    ),
    huggingface_listing(
        "Jean-Baptiste/roberta-large-ner-english",
        "RoBERTa large NER (English)",
        Task.TOKEN_CLASSIFICATION,
        "mit",
        True,
        summary="English entity recognition with RoBERTa large, fine-tuned on CoNLL-2003; robust to lower-case "
        "text.",
        description="Validated on emails and chat data, where it handles entities that do not start with a capital "
        "letter better than most.",
        intended_use="Entity extraction from informal English text such as emails.",
        limitations="Four entity types only; a large model, slower than BERT base.",
        tags=("ner", "roberta", "english"),
        popularity=3,
    ),
    huggingface_listing(
        "obi/deid_roberta_i2b2",
        "De-identification RoBERTa (i2b2)",
        Task.TOKEN_CLASSIFICATION,
        "mit",
        True,
        summary="Finds protected health information (names, dates, IDs...) in medical notes for de-identification.",
        description="RoBERTa large fine-tuned on the i2b2 2014 de-identification data by the OBI project.",
        intended_use="A first pass at removing identifiers from clinical text, with human review.",
        limitations="Misses some identifiers: never rely on it alone for legal de-identification; trained on one "
        "institution's notes.",
        tags=("ner", "medical", "privacy", "de-identification"),
        popularity=2,
    ),
)

EMBEDDINGS = (
    huggingface_listing(
        "sentence-transformers/all-MiniLM-L6-v2",
        "all-MiniLM-L6-v2",
        Task.EMBEDDINGS,
        "apache-2.0",
        True,
        summary="Fast 384-dimensional sentence embeddings for semantic search and clustering.",
        description="A 6-layer MiniLM trained contrastively on over a billion sentence pairs; input is truncated "
        "at 256 word pieces.",
        intended_use="Semantic search, clustering, deduplication and retrieval for RAG where speed matters.",
        limitations="English only; long texts are truncated; less accurate than larger embedding models.",
        tags=("sentence-transformers", "semantic-search", "small"),
        popularity=5,
        featured=True,
    ),
    huggingface_listing(
        "sentence-transformers/all-mpnet-base-v2",
        "all-mpnet-base-v2",
        Task.EMBEDDINGS,
        "apache-2.0",
        True,
        summary="768-dimensional sentence embeddings from MPNet; higher quality than MiniLM, still fast.",
        description="MPNet base trained on the same billion-pair dataset as all-MiniLM-L6-v2.",
        intended_use="Semantic search, clustering and sentence similarity.",
        limitations="English only; input truncated at 384 word pieces.",
        tags=("sentence-transformers", "semantic-search"),
        popularity=5,
    ),
    huggingface_listing(
        "BAAI/bge-large-en-v1.5",
        "BGE large English v1.5",
        Task.EMBEDDINGS,
        "mit",
        True,
        summary="BAAI's 1024-dimensional English embedding model, a strong performer on the MTEB retrieval "
        "benchmark.",
        description="For short queries against passages, prefix the query with the recommended instruction.",
        intended_use="Retrieval for RAG, semantic search, reranking candidates.",
        limitations="English only; 512-token input limit.",
        tags=("bge", "retrieval", "rag"),
        popularity=5,
    ),
    huggingface_listing(
        "BAAI/bge-m3",
        "BGE-M3",
        Task.EMBEDDINGS,
        "mit",
        True,
        summary="Multilingual (100+ languages), multi-granularity embeddings: dense, sparse and multi-vector, up to "
        "8,192 tokens.",
        description="One model giving dense vectors, lexical (sparse) weights and ColBERT-style multi-vectors.",
        intended_use="Multilingual and long-document retrieval, hybrid search.",
        limitations="Larger and slower than small English models; the sparse and multi-vector outputs need "
        "matching index support.",
        tags=("bge", "multilingual", "retrieval", "long-context"),
        popularity=5,
    ),
    huggingface_listing(
        "intfloat/multilingual-e5-large",
        "multilingual-e5-large",
        Task.EMBEDDINGS,
        "mit",
        True,
        summary="Multilingual text embeddings (about 100 languages), 1024 dimensions.",
        description="XLM-RoBERTa large trained with weak supervision and then fine-tuned; inputs need a 'query: ' "
        "or 'passage: ' prefix.",
        intended_use="Cross-lingual semantic search and retrieval.",
        limitations="Forgetting the prefixes degrades quality; 512-token input limit.",
        tags=("e5", "multilingual", "retrieval"),
        popularity=4,
    ),
    huggingface_listing(
        "intfloat/e5-large-v2",
        "e5-large-v2",
        Task.EMBEDDINGS,
        "mit",
        True,
        summary="English text embeddings from E5 (1024 dimensions) for retrieval and similarity.",
        description="Trained contrastively on large-scale weakly supervised text pairs; inputs need 'query: ' or "
        "'passage: ' prefixes.",
        intended_use="English retrieval, clustering and classification features.",
        limitations="English only; 512-token input limit.",
        tags=("e5", "retrieval"),
        popularity=3,
    ),
    huggingface_listing(
        "nomic-ai/nomic-embed-text-v1.5",
        "Nomic Embed Text v1.5",
        Task.EMBEDDINGS,
        "apache-2.0",
        True,
        summary="Long-context (8,192 tokens) English embeddings with Matryoshka dimensions from 64 to 768.",
        description="Trained with fully open data and code; embeddings can be truncated to smaller sizes with "
        "little loss.",
        intended_use="Retrieval over long documents, storage-efficient vector search.",
        limitations="Requires task prefixes such as 'search_query: '; English only.",
        tags=("nomic", "long-context", "matryoshka", "open-data"),
        popularity=4,
    ),
    huggingface_listing(
        "thenlper/gte-large",
        "GTE large",
        Task.EMBEDDINGS,
        "mit",
        True,
        summary="General Text Embeddings (large, 1024 dimensions) from Alibaba DAMO Academy.",
        description="Trained with multi-stage contrastive learning on a large, diverse corpus of text pairs.",
        intended_use="Semantic search, retrieval and text similarity in English.",
        limitations="English only; input truncated at 512 tokens.",
        tags=("gte", "retrieval"),
        popularity=3,
    ),
    huggingface_listing(
        "mixedbread-ai/mxbai-embed-large-v1",
        "mxbai-embed-large-v1",
        Task.EMBEDDINGS,
        "apache-2.0",
        True,
        summary="Mixedbread's 1024-dimensional English embeddings, supporting Matryoshka and binary quantization.",
        description="Queries take a short retrieval instruction prefix; documents are embedded as they are.",
        intended_use="Retrieval for RAG and semantic search, compact vector stores.",
        limitations="English only; 512-token input limit.",
        tags=("retrieval", "matryoshka", "quantization"),
        popularity=4,
    ),
    huggingface_listing(
        "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2",
        "paraphrase-multilingual-MiniLM-L12-v2",
        Task.EMBEDDINGS,
        "apache-2.0",
        True,
        summary="Small multilingual sentence embeddings (384 dimensions) covering 50+ languages.",
        description="Distilled from a paraphrase model so that translations map to nearby vectors.",
        intended_use="Multilingual similarity, clustering and paraphrase mining.",
        limitations="Less accurate than large multilingual models; input truncated at 128 word pieces.",
        tags=("sentence-transformers", "multilingual", "small"),
        popularity=4,
    ),
)

HUGGINGFACE_TEXT_LISTINGS = CHAT + TEXT_GENERATION + TEXT_CLASSIFICATION + TOKEN_CLASSIFICATION + EMBEDDINGS
