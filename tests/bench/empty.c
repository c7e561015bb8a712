/* Nothing at all: preloading this measures what any preload costs. */
int kap_empty_marker;
