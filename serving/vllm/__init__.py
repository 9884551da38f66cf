"""vLLM serving configs (`vllm serve --config FILE`) and the endpoint pre-flight check."""
