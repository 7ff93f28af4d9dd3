"""Write notebooks/*.ipynb (outputs stripped) from the cells below.

    python scripts/make_notebooks.py

The notebooks are the chapter's three sections on top of d2lnets. With
D2LNETS_QUICK=1 they train one epoch on the shipped sample (CI does this);
otherwise they use the book's full settings on Fashion-MNIST.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from d2lnets.exercises import list_exercises
from d2lnets.recipes import describe, get_recipe, recipe_names

OUT = Path(__file__).resolve().parent.parent / "notebooks"

COLAB = '''# On Colab only: MXNet 1.9.1 and d2lnets, leaving Colab's numpy 2 as it is (MXNet's own
# metadata asks for numpy<2, hence --no-deps; d2lnets lets MXNet import under numpy 2)
import importlib.util
D2LNETS = "d2lnets"  # not on PyPI yet: put the path or git URL of a d2lnets clone here
if importlib.util.find_spec("google.colab") and not importlib.util.find_spec("d2lnets"):
    %pip install -q --no-deps mxnet==1.9.1 {D2LNETS}'''

SETUP = '''import os
import d2lnets as d2l  # before mxnet: in a kernel started before the install, this lets MXNet import
import mxnet as mx
from mxnet import autograd, gluon, init, nd
from mxnet.gluon import nn

QUICK = os.environ.get("D2LNETS_QUICK") == "1"  # CI: one epoch on the shipped sample
ctx = d2l.try_gpu()
print("quick mode" if QUICK else "the book's full settings", "on", ctx)'''


def train_cell(model: str, lr: float, resize: int | None, epochs: int = 5) -> str:
    resize_arg = f", resize={resize}" if resize else ""
    return f'''batch_size, num_epochs, lr = (64, 1, {lr}) if QUICK else (256, {epochs}, {lr})
train_iter, test_iter = d2l.load_data_fashion_mnist(
    batch_size{resize_arg}, root="sample" if QUICK else None)
d2l.set_seed(0)
net = d2l.get_model("{model}")
net.initialize(ctx=ctx, init=init.Xavier())
trainer = gluon.Trainer(net.collect_params(), "sgd", {{"learning_rate": lr}})
history = d2l.train_ch5(net, train_iter, test_iter, batch_size, trainer, ctx, num_epochs)'''


CURVES = '''%matplotlib inline
d2l.plot_history(history);'''


#: a notebook's network and its family members whose recipes it also offers
FAMILY = {"resnet18": ("resnet18", "resnet18-small"), "densenet": ("densenet",)}


def recipe_options(model: str) -> dict[str, tuple[str, str]]:
    """Recipe name -> (model, recipe): the network's own recipes, then the names
    only a family member has (ResNet-18's ``long`` is ``resnet18-small``'s)."""
    options: dict[str, tuple[str, str]] = {}
    for member in FAMILY.get(model, (model,)):
        for name in recipe_names(member):
            options.setdefault(name, (member, name))
    return options


def recipe_choice(model: str) -> str:
    """The recipe variable: fast on a CPU, the book's on a GPU, each said in words."""
    return f'''# "book" is the chapter's own settings; "fast" reaches the book's accuracy in minutes on a
# CPU; "long", where there is one, goes beyond it. Each is (network, recipe):
RECIPES = {recipe_options(model)!r}
RECIPE = "fast" if ctx.device_type == "cpu" else "book"
for name, (model, recipe) in RECIPES.items():
    minutes = d2l.recipes.get_recipe(model, recipe).minutes
    print(f"{{name:>5}}: about {{minutes:g}} min on a 2-core CPU: {{d2l.recipes.describe(model, recipe)}}")
print("this notebook trains with RECIPE =", repr(RECIPE))
histories = {{}}  # recipe -> its history, for the plot of both'''


def recipe_train_cell(model: str, lr: float, resize: int | None) -> str:
    """The book's code for ``book``; ``train_recipe`` for any other recipe."""
    book = "\n".join("    " + line for line in train_cell(model, lr, resize).splitlines())
    return f'''if RECIPE == "book":
{book}
else:
    quick = dict(data="sample", epochs=1, batch_size=64) if QUICK else {{}}
    run = d2l.train_recipe(*RECIPES[RECIPE], ctx, **quick)
    net, test_iter, history = run.net, run.test_iter, run.history
histories[RECIPE] = history'''


def training_text(model: str) -> str:
    """What each recipe does, in the recipe's own words (``recipes.describe``)."""
    lines = [f"- `{name}` (about {get_recipe(*pair).minutes:g} min on a 2-core CPU): "
             f"{describe(*pair)}" for name, pair in recipe_options(model).items()]
    return "## 训练模型 (Training)\n\n" + "\n".join(lines)


def exercise_cells(section: str) -> list:
    """The section's exercises, each run by the same code as `d2lnets exercise run`."""
    cells = [new_markdown_cell(
        "## 练习 (Exercises), answered by experiment\n\nEach cell runs "
        "`d2lnets exercise run NAME` (d2lnets/exercises/): a table, a figure and the answer; "
        "the minutes are its default run on a 2-core CPU, seconds with D2LNETS_QUICK=1. "
        "All answers with their figures: docs/exercises.md."),
        new_code_cell(EXERCISE)]
    for ex in list_exercises(section):
        cells.append(new_markdown_cell(f"**{ex.number}. `{ex.name}`** (about {ex.minutes:g} min)"
                                       f": {ex.question}"))
        cells.append(new_code_cell(f'exercise("{ex.name}")'))
    return cells


EXERCISE = '''from IPython.display import Image, Markdown, display
from d2lnets.exercises import run_exercise

def exercise(name):
    out = os.path.join("runs", "exercises", name)
    result = run_exercise(name, out, quick=QUICK, ctx=ctx, log=print)
    display(Markdown(result.table() + "\\n\\n" + result.answer))
    if os.path.exists(os.path.join(out, "figure.png")):
        display(Image(os.path.join(out, "figure.png")))'''


BOTH = '''# to compare: set RECIPE = "book" (or "fast") in a new cell, run the training cell again,
# then this one: both runs on one plot
if len(histories) > 1:
    d2l.plot_time_to_accuracy(histories, title="test accuracy against training time");'''

PREDICT = '''X, y = next(iter(test_iter))
X, y = X[:8], y[:8]
true_labels = d2l.get_fashion_mnist_labels(y.asnumpy())
pred_labels = d2l.get_fashion_mnist_labels(net(X.as_in_context(ctx)).argmax(axis=1).asnumpy())
titles = [f"{t}\\n{p}" for t, p in zip(true_labels, pred_labels)]
d2l.show_fashion_mnist(X[:, 0], titles);'''


def editions(section: str) -> str:
    """The markdown that says whose code this is and where the other editions' is."""
    return ("This notebook's code is the first Chinese edition's (d2l-zh v1, `import d2lzh as "
            "d2l`), which d2lnets runs as `import d2lnets as d2l`. Reading d2l-zh v2, d2l-en 0.17 "
            "or d2l-en 1.0? Write `from d2lnets import mxnet as d2l` instead of `from d2l import "
            "mxnet as d2l` and run the book's own cells unchanged: `tests/editions/v2_"
            f"{section}.py` and `tests/editions/v1_0_{section}.py` hold them, and "
            "`docs/editions.md` says what differs.")


def batch_norm() -> list:
    return [
        new_markdown_cell("# 批量归一化 (Batch Normalization)\n\n"
                          "批量归一化在训练时用小批量的均值和标准差不断调整中间输出, "
                          "使深层网络各层的数值更稳定。"
                          "\n\nDuring training, batch normalization standardises each layer's "
                          "intermediate output with the mean and standard deviation of the current "
                          "mini-batch, which keeps deep networks numerically stable. At prediction "
                          "time it uses moving averages estimated during training instead."),
        new_markdown_cell(editions("batch_norm")),
        new_code_cell(COLAB),
        new_code_cell(SETUP),
        new_markdown_cell("## 从零开始实现 (Implementation from scratch)\n\n"
                          "全连接层: 对每个特征在批量维上归一化; "
                          "卷积层: 对每个通道在 (批量, 高, 宽) 上归一化。\n\n"
                          "For a dense layer each feature is normalised over the batch; for a "
                          "convolution each channel is normalised over batch, height and width. "
                          "This is the chapter's `batch_norm`, as d2lnets ships it:"),
        new_code_cell("import inspect\nprint(inspect.getsource(d2l.batch_norm))"),
        new_code_cell('''X = nd.arange(24).reshape((4, 6))  # 4 samples, 6 features
gamma, beta = nd.ones((1, 6)), nd.zeros((1, 6))
moving_mean, moving_var = nd.zeros((1, 6)), nd.ones((1, 6))
with autograd.record():  # training mode: batch statistics
    Y, moving_mean, moving_var = d2l.batch_norm(X, gamma, beta, moving_mean, moving_var,
                                                eps=1e-5, momentum=0.9)
print("per-feature mean:", Y.mean(axis=0))          # 0
print("per-feature variance:", (Y ** 2).mean(axis=0))  # 1 (up to eps)
print("moving mean after one step:", moving_mean)'''),
        new_markdown_cell("`BatchNorm` wraps it as a layer. Its moving statistics are "
                          "Parameters (saved with the net, moved with its context) and it "
                          "hybridizes.\n\n"
                          "**Pitfall / 注意:** like every BatchNorm, it uses the batch "
                          "statistics only inside `autograd.record()` (training mode). Called "
                          "outside it, it normalises with the moving statistics, even when you "
                          "meant to train:"),
        new_code_cell('''bn = d2l.BatchNorm(3, num_dims=4)
bn.initialize()
X = nd.random.normal(5, 2, shape=(8, 3, 4, 4))
print("prediction mode, per-channel mean:", bn(X).mean(axis=(0, 2, 3)))  # ~5: moving stats
with autograd.record():
    print("training mode, per-channel mean:", bn(X).mean(axis=(0, 2, 3)))  # ~0: batch stats'''),
        new_markdown_cell("## 使用批量归一化层的LeNet (LeNet with batch normalization)"),
        new_code_cell('''net = d2l.lenet_bn(scratch=True)
d2l.summary(net, (1, 1, 28, 28));'''),
        new_code_cell(train_cell("lenet_bn_scratch", 1.0, None)),
        new_code_cell(CURVES),
        new_markdown_cell("学到的拉伸参数 gamma 和偏移参数 beta (the learned scale and shift of "
                          "the first BN layer):"),
        new_code_cell("net[1].gamma.data().reshape((-1,)), net[1].beta.data().reshape((-1,))"),
        new_markdown_cell("## 简洁实现 (Concise implementation with Gluon's `nn.BatchNorm`)"),
        new_code_cell(train_cell("lenet_bn", 1.0, None)),
        new_code_cell(CURVES),
        new_markdown_cell("## 预测 (Predictions): true label above, predicted below"),
        new_code_cell(PREDICT),
        *exercise_cells("batch-norm"),
    ]


def resnet() -> list:
    return [
        new_markdown_cell("# 残差网络 (ResNet)\n\n"
                          "残差块让输入通过跨层的数据线路更快地向前传播: 只需学出残差映射 f(x) − x。\n\n"
                          "A residual block only has to learn the residual f(x) − x: the input "
                          "skips the two convolutions and is added back before the last ReLU."),
        new_markdown_cell(editions("resnet")),
        new_code_cell(COLAB),
        new_code_cell(SETUP),
        new_markdown_cell("## 残差块 (Residual blocks)"),
        new_code_cell('''blk = d2l.Residual(3)
blk.initialize()
X = nd.random.uniform(shape=(4, 3, 6, 6))
blk(X).shape'''),
        new_markdown_cell("改变通道数并将高和宽减半 (a 1x1 convolution changes the channels; "
                          "stride 2 halves height and width):"),
        new_code_cell('''blk = d2l.Residual(6, use_1x1conv=True, strides=2)
blk.initialize()
blk(X).shape'''),
        new_markdown_cell("## ResNet模型 (The ResNet-18 model)\n\n"
                          "7x7 conv, BN, ReLU, 3x3 max pool, four stages of two residual blocks, "
                          "global average pooling and a dense layer: 18 layers. The book's shape "
                          "walk, with parameters and multiply-adds:"),
        new_code_cell('''net = d2l.resnet18()
d2l.summary(net, (1, 1, 224, 224));'''),
        new_code_cell('''net.initialize()
X = nd.random.uniform(shape=(1, 1, 224, 224))
for layer in net:
    X = layer(X)
    print(layer.name, "output shape:\\t", X.shape)'''),
        new_markdown_cell(training_text("resnet18")),
        new_code_cell(recipe_choice("resnet18")),
        new_code_cell(recipe_train_cell("resnet18", 0.05, 96)),
        new_code_cell(CURVES),
        new_code_cell(BOTH),
        new_markdown_cell("## 预测 (Predictions): true label above, predicted below"),
        new_code_cell(PREDICT),
        *exercise_cells("resnet"),
    ]


def densenet() -> list:
    return [
        new_markdown_cell("# 稠密连接网络 (DenseNet)\n\n"
                          "与ResNet将输入与输出相加不同, DenseNet在通道维上连结输入与输出。\n\n"
                          "Where ResNet adds a block's input to its output, DenseNet concatenates "
                          "them along the channels."),
        new_markdown_cell(editions("densenet")),
        new_code_cell(COLAB),
        new_code_cell(SETUP),
        new_markdown_cell("## 稠密块 (Dense blocks)\n\n"
                          "Each conv block is BN, ReLU, 3x3 conv; the block's channels grow by "
                          "the growth rate with each conv:"),
        new_code_cell('''blk = d2l.DenseBlock(2, 10)
blk.initialize()
X = nd.random.uniform(shape=(4, 3, 8, 8))
Y = blk(X)
Y.shape  # 3 + 2 * 10 = 23 channels'''),
        new_markdown_cell("## 过渡层 (Transition layers)\n\n"
                          "A 1x1 conv reduces the channels and 2x2 average pooling halves height "
                          "and width:"),
        new_code_cell('''blk = d2l.transition_block(10)
blk.initialize()
blk(Y).shape'''),
        new_markdown_cell("## DenseNet模型 (The DenseNet model)\n\n"
                          "The same stem as ResNet, four dense blocks of four convs (growth rate "
                          "32) with transitions halving the channels, then BN, ReLU, global "
                          "pooling and a dense layer:"),
        new_code_cell('''net = d2l.densenet()
d2l.summary(net, (1, 1, 96, 96));'''),
        new_markdown_cell(training_text("densenet")),
        new_code_cell(recipe_choice("densenet")),
        new_code_cell(recipe_train_cell("densenet", 0.1, 96)),
        new_code_cell(CURVES),
        new_code_cell(BOTH),
        new_markdown_cell("## 预测 (Predictions): true label above, predicted below"),
        new_code_cell(PREDICT),
        *exercise_cells("densenet"),
    ]


def main() -> None:
    OUT.mkdir(exist_ok=True)
    meta = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"}}
    for name, cells in (("batch-norm", batch_norm()), ("resnet", resnet()), ("densenet", densenet())):
        nb = new_notebook(cells=cells, metadata=meta)
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"{name}-{i}"
        nbformat.write(nb, OUT / f"{name}.ipynb")
        print(f"wrote {OUT / name}.ipynb")


if __name__ == "__main__":
    main()
