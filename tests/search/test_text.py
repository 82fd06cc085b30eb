from bot.search.text import title_key, token_text, tokens


def test_cjk_runs_become_overlapping_bigrams_and_words_stay_words() -> None:
    assert tokens("文旅元宇宙") == ["文旅", "旅元", "元宇", "宇宙"]
    assert tokens("Livestream SALES 2023") == ["livestream", "sale", "2023"]
    assert tokens("1.27万亿") == ["1", "27", "万亿"]
    assert tokens("算") == ["算"]


def test_a_word_inside_a_longer_word_is_found() -> None:
    # 元宇宙 inside 文旅元宇宙: word segmenters split it differently and lose it; bigrams cannot.
    assert set(tokens("元宇宙")) <= set(tokens("文旅元宇宙掀起新消费热潮"))


def test_query_filler_is_dropped_without_joining_the_pieces() -> None:
    assert tokens("直播销售额是多少？", query=True) == ["直播", "播销", "销售", "售额"]
    assert tokens("what is the growth of computing", query=True) == ["growth", "computing"]
    assert "济发" not in tokens("数字经济的发展", query=True)


def test_token_text_and_title_key() -> None:
    assert token_text("算力", None, "AI") == "算力 ai"
    assert title_key("《数字中国建设整体布局规划》") == "数字中国建设整体布局规划"
    assert title_key("Livestream  Sales!") == "livestreamsales"
