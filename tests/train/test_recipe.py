from pathlib import Path

import pytest

from zoo.train.recipe import RecipeError, load_recipe

REPO_RECIPES = Path(__file__).resolve().parents[2] / "recipes"

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


@pytest.mark.parametrize("model", ["crnn_vgg", "rcnn", "grcnn", "densenet"])
def test_cpu_recipes_differ_from_paper_recipes_by_values_only(model):
    paper = load_recipe(RECIPES / "papers" / f"{model}.yaml")
    cpu = load_recipe(RECIPES / "cpu" / f"{model}.yaml")
    assert paper.model.name == cpu.model.name == model
    assert cpu.model.options == {"hidden_size": 256}  # one head for every backbone at CPU scale
    assert (paper.train.batch_size, paper.train.iterations, paper.train.optimizer) == (192, 300_000, "adadelta")
    assert paper.train.grad_clip == cpu.train.grad_clip == 5.0 and cpu.data.width_policy == "fixed"
    assert (cpu.train.iterations, cpu.train.batch_size, cpu.train.bf16) == (5000, 32, True)
    assert cpu.train.optimizer_args == paper.train.optimizer_args and cpu.train.optimizer == "adadelta"


def test_crnn_keeps_its_papers_adadelta_rho():
    assert load_recipe(RECIPES / "papers/crnn_vgg.yaml").train.optimizer_args == {"rho": 0.9}
    assert load_recipe(RECIPES / "papers/grcnn.yaml").train.optimizer_args == {"rho": 0.95}


def test_overrides_are_typed_yaml_values(tiny_recipe):
    r = load_recipe(tiny_recipe, ["train.lr=0.5", "model.options.recurrent_steps=2", "data.augment=true"])
    assert r.train.lr == 0.5 and r.model.options == {"recurrent_steps": 2, "hidden_size": 32} and r.data.augment is True
    assert load_recipe(tiny_recipe, ["model.options={share_weights: true}"]).model.options == {"share_weights": True}


@pytest.mark.parametrize("override,message", [
    ("train.batchsize=3", "unknown recipe key 'train.batchsize'. Did you mean 'batch_size'"),
    ("train.lr=fast", "recipe key 'train.lr' must be float, got 'fast'"),
    ("train.iterations=2.5", "recipe key 'train.iterations' must be int"),
    ("trian.lr=1", "unknown recipe key 'trian'. Did you mean 'train'"),
    ("train.lr", "expected KEY=VALUE"),
])
def test_bad_recipes_name_the_key(tiny_recipe, override, message):
    with pytest.raises(RecipeError, match=message.replace(".", r"\.").replace("(", r"\(").replace("'", "'")):
        load_recipe(tiny_recipe, [override])


def test_missing_base_is_named(tmp_path):
    (tmp_path / "r.yaml").write_text("_base_: nowhere.yaml\n")
    with pytest.raises(RecipeError, match=r"nowhere.yaml does not exist \(a _base_ of"):
        load_recipe(tmp_path / "r.yaml")


@pytest.mark.parametrize("override,minimum", [
    ("train.checkpoint_every=0", 1), ("train.log_every=0", 1), ("train.val_every=-2", 1),
    ("train.iterations=0", 1), ("train.iterations=-3", 1), ("train.batch_size=0", 1),
    ("data.val_samples=-5", 0), ("data.workers=-1", 0),
])
def test_values_that_make_no_sense_are_refused_at_load_time(tiny_recipe, override, minimum):
    key, value = override.split("=")
    with pytest.raises(RecipeError, match=rf"recipe key '{key}' must be at least {minimum}, got {value}"):
        load_recipe(tiny_recipe, [override])


def test_every_problem_of_a_recipe_is_reported_at_once(tiny_recipe):
    with pytest.raises(RecipeError) as refused:
        load_recipe(tiny_recipe, ["train.log_every=0", "train.batchsize=3", "data.workers=-1", "train.lr=fast"])
    message = str(refused.value)
    assert message.startswith("4 problems in the recipe:")
    for named in ["'train.log_every' must be at least 1", "unknown recipe key 'train.batchsize'",
                  "'data.workers' must be at least 0", "'train.lr' must be float"]:
        assert named in message


def test_a_mapping_with_delete_replaces_its_bases_instead_of_merging(tmp_path):
    child = tmp_path / "adamw.yaml"
    child.write_text(f"_base_: {REPO_RECIPES / 'cpu/grcnn.yaml'}\ntrain: {{optimizer: adamw, optimizer_args: {{_delete_: true, "
                     f"betas: [0.9, 0.99]}}}}\n")
    assert load_recipe(child).train.optimizer_args == {"betas": [0.9, 0.99]}  # Adadelta's rho is gone
    merged = tmp_path / "merged.yaml"
    merged.write_text(f"_base_: {REPO_RECIPES / 'cpu/grcnn.yaml'}\ntrain: {{optimizer_args: {{eps: 1.0e-6}}}}\n")
    assert load_recipe(merged).train.optimizer_args == {"rho": 0.95, "eps": 1.0e-6}
    assert load_recipe(child, ["train.optimizer_args={_delete_: true}"]).train.optimizer_args == {}


def test_a_field_added_since_a_run_was_saved_is_no_change_when_it_has_its_default():
    from zoo.train.recipe import recipe_changes

    recipe = load_recipe(REPO_RECIPES / "cpu/grcnn.yaml").as_dict()
    saved = {**recipe, "data": {**recipe["data"], "train_synth": {"n": 200000, "seed": 1}}}  # before preset/fonts existed
    assert recipe_changes(saved, recipe) == []
    changed = load_recipe(REPO_RECIPES / "cpu/grcnn.yaml", ["data.train_synth.preset=scene"]).as_dict()
    assert recipe_changes(saved, changed) == ["data.train_synth.preset: 'baseline' -> 'scene'"]


@pytest.mark.parametrize("override,message", [
    ("train.lr=.inf", "recipe key 'train.lr' must be a finite number, got inf"),
    ("train.lr=0", "recipe key 'train.lr' must be above 0, got 0.0"),
    ("train.lr=-1", "recipe key 'train.lr' must be above 0, got -1.0"),
    ("train.grad_clip=.nan", "recipe key 'train.grad_clip' must be a finite number, got nan"),
    ("train.grad_clip=-1", "recipe key 'train.grad_clip' must be at least 0, got -1.0"),
    ("train.ema_decay=2", "recipe key 'train.ema_decay' must be at least 0 and below 1, got 2.0"),
    ("train.ema_decay=1", "recipe key 'train.ema_decay' must be at least 0 and below 1, got 1.0"),
    ("train.warmup_iterations=-5", "recipe key 'train.warmup_iterations' must be at least 0, got -5"),
    ("train.weight_decay=-1", "recipe key 'train.weight_decay' must be at least 0, got -1.0"),
    ("train.max_bad_batches=-1", "recipe key 'train.max_bad_batches' must be at least 0, got -1"),
    ("seed=-1", "recipe key 'seed' must be at least 0 and at most 4294967295, got -1"),
    ("train.optimizer=nosuchopt", "recipe key 'train.optimizer': timm has no optimizer 'nosuchopt'"),
    ("train.scheduler=cosin", "recipe key 'train.scheduler' must be one of none, cosine, tanh, step, plateau, poly, "
                              "got 'cosin'. Did you mean 'cosine'?"),
])
def test_training_values_that_would_train_nonsense_are_refused_at_load_time(tiny_recipe, override, message):
    # before: lr=.inf trained to NaN and saved it, ema_decay=2 and grad_clip=-1 ran, a wrong optimizer
    # name failed inside timm after the data was built
    with pytest.raises(RecipeError) as refused:
        load_recipe(tiny_recipe, [override])
    assert message in str(refused.value)


def test_a_float_written_without_a_dot_is_the_float(tiny_recipe):
    # YAML 1.1 (PyYAML) reads 1e-3 as text
    assert load_recipe(tiny_recipe, ["train.lr=1e-3"]).train.lr == 0.001
    assert load_recipe(tiny_recipe, ["train.optimizer=adamw", "train.optimizer_args={}",  # Adadelta's rho, not AdamW's
                                     "train.scheduler=cosine"]).train.optimizer == "adamw"


def test_invalid_yaml_is_one_line_with_its_place(tmp_path):
    # before: PyYAML's four lines with the offending text and a caret under it
    (tmp_path / "r.yaml").write_text("train: {lr: [1, }\n")
    with pytest.raises(RecipeError) as refused:
        load_recipe(tmp_path / "r.yaml")
    message = str(refused.value)
    assert "\n" not in message and "not valid YAML at line 1, column 17 (expected the node content" in message


@pytest.mark.parametrize("override, message", [
    ("data.real_val=[1,2]", "recipe key 'data.real_val' takes paths: a list of folders of real words, each holding "
                            "a gt.txt, got [1, 2]: item 1 is 1 (int)"),
    ("train.optimizer_args={foo: 1}", "recipe key 'train.optimizer_args.foo': adadelta takes no argument 'foo'. "
                                      "It takes: rho, eps"),
    ("train.optimizer_args={rho: -5}", "recipe key 'train.optimizer_args.rho': adadelta refuses rho=-5 "
                                       "(Invalid rho value: -5)"),
    ("train.optimizer_args={lr: 0.1}", "recipe key 'train.optimizer_args.lr': set train.lr instead"),
    ("train.optimizer=adam", "recipe key 'train.optimizer_args.rho': adam takes no argument 'rho'"),
])
def test_list_items_and_optimizer_arguments_are_checked_when_the_recipe_loads(tiny_recipe, override, message):
    # before: "expected str, bytes or os.PathLike object, not int", and "Adadelta.__init__() got an unexpected
    # keyword argument 'foo'" only once the data had loaded
    with pytest.raises(RecipeError) as refused:
        load_recipe(tiny_recipe, [override])
    assert message in str(refused.value)
    assert load_recipe(tiny_recipe, ["train.optimizer=adamw", "train.optimizer_args={betas: [0.9, 0.99]}",
                                     "data.real_val=[data/real]"]).train.optimizer_args == {"betas": [0.9, 0.99]}


def test_render_settings_are_checked_when_the_recipe_loads():
    recipe = load_recipe(REPO_RECIPES / "cpu/grcnn.yaml", ["data.train_synth.settings={p_photo: 0.3, words: signs}"])
    assert recipe.data.train_synth.settings == {"p_photo": 0.3, "words": "signs"}
    with pytest.raises(RecipeError, match=r"'data.train_synth.settings': p_foto: no such renderer "
                                          r"setting. Did you mean 'p_photo'"):
        load_recipe(REPO_RECIPES / "cpu/grcnn.yaml", ["data.train_synth.settings={p_foto: 0.3}"])
    with pytest.raises(RecipeError, match="'data.train_synth.preset' must be one of baseline, scene, got 'scenes'. "
                                          "Did you mean 'scene'"):
        load_recipe(REPO_RECIPES / "cpu/grcnn.yaml", ["data.train_synth.preset=scenes"])
    with pytest.raises(RecipeError, match="'data.val_synth.fonts' must be all or pip, got 'debian'"):
        load_recipe(REPO_RECIPES / "cpu/grcnn.yaml", ["data.val_synth.fonts=debian"])
