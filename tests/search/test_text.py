from bot.search.text import asks_for_figure, simplified, title_key, token_text, tokens


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


def test_question_words_never_block_a_match() -> None:
    assert tokens("how many large models with more than 1 billion parameters", query=True) == [
        "large",
        "model",
        "1",
        "billion",
        "parameter",
    ]
    assert tokens("what's the livestream sales", query=True) == ["livestream", "sale"]
    assert tokens("数据交易所有多少家", query=True) == ["数据", "据交", "交易", "易所"]
    assert tokens("活跃主播有多少人", query=True) == tokens("活跃主播")
    assert tokens("贸易畅通工作组有哪些国家", query=True) == tokens("贸易畅通工作组 国家")
    assert tokens("国家数据局什么时候成立", query=True) == tokens("国家数据局")
    assert tokens("我国算力总规模全球排名第几", query=True) == tokens("我国算力总规模全球排名")
    # The year stands apart, so no bigram joins it to the next word.
    assert tokens("2023年直播销售额", query=True) == ["2023", *tokens("直播销售额")]
    # Only queries lose them: a document keeps every word.
    assert tokens("how many") == ["how", "many"]


def test_traditional_characters_are_searched_as_simplified() -> None:
    assert tokens("數據局", query=True) == tokens("数据局", query=True)
    assert title_key("《國家數據局》") == title_key("国家数据局")
    report = "国家数据局正式组建；直播销售额1.27万亿；网民对网络诚信建设状况满意率84.24%"
    assert simplified(report) == report  # the simplified report indexes as it always did
    assert simplified("livestream") == "livestream"


def test_questions_that_ask_for_a_number() -> None:
    assert asks_for_figure("数据交易所有多少家") and asks_for_figure("How many data exchanges")
    assert asks_for_figure("厦门赋能平台有幾個")
    assert not asks_for_figure("国家数据局") and not asks_for_figure("data exchanges")
