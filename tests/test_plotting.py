"""plotting.py: the figures show the numbers they are given, and are written safely."""
import numpy as np
import pytest

from d2lnets import plotting
from d2lnets.training.history import History

ROWS = [{"epoch": 1, "loss": 0.9, "train_acc": 0.6, "test_acc": 0.7, "time": 2.0},
        {"epoch": 2, "loss": 0.5, "train_acc": 0.8, "test_acc": 0.82, "time": 3.0}]


def test_plot_history_draws_each_rows_figures(tmp_path):
    fig = plotting.plot_history(History(ROWS), tmp_path / "curves.png")
    loss_ax, acc_ax = fig.axes
    (loss,) = loss_ax.get_lines()
    train, test = acc_ax.get_lines()
    assert list(loss.get_xdata()) == [1, 2] and list(loss.get_ydata()) == [0.9, 0.5]
    assert list(train.get_ydata()) == [0.6, 0.8] and list(test.get_ydata()) == [0.7, 0.82]
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_time_to_accuracy_sums_the_epochs_seconds():
    fig = plotting.plot_time_to_accuracy({"book": ROWS, "given": ([1.0, 4.0], [0.5, 0.9])},
                                         targets=[0.8])
    book, given = fig.axes[0].get_lines()[:2]
    assert list(book.get_xdata()) == [2.0, 5.0] and list(book.get_ydata()) == [0.7, 0.82]
    assert list(given.get_xdata()) == [1.0, 4.0]
    assert fig.axes[0].get_xscale() == "log"


@pytest.mark.parametrize("shape", [(28, 28), (1, 28, 28), (28, 28, 1)])
def test_show_fashion_mnist_takes_each_image_layout(shape, tmp_path):
    images = [np.arange(784, dtype="float32").reshape(shape) for _ in range(3)]
    fig = plotting.show_fashion_mnist(images, ["a", "b", "c"], path=str(tmp_path / "x.png"))
    shown = [ax.get_images()[0].get_array() for ax in fig.axes]
    assert all(a.shape == (28, 28) and a[1, 0] == 28 for a in shown)
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c"]


def test_a_figure_replaces_a_planted_link_instead_of_writing_through_it(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "curves.png").symlink_to(victim)
    plotting.plot_history(ROWS, tmp_path / "curves.png")
    assert victim.read_text() == "keep"
    assert not (tmp_path / "curves.png").is_symlink()
    (tmp_path / "x.png").symlink_to(victim)
    plotting.show_fashion_mnist([np.zeros((28, 28))], ["a"], path=str(tmp_path / "x.png"))
    assert victim.read_text() == "keep"
