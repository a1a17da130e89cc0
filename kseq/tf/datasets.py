"""`LengthBatches` as a `tf.data.Dataset`, for TensorFlow's `fit()` and its distribution strategies."""

import tensorflow as tf


def length_batches_dataset(batches):
    """The same batches as a `tf.data.Dataset` (`LengthBatches.as_tf_dataset()` calls this).

    Keras' own conversion fixes every shape it sees in the first two
    batches; these vary by bucket. Each pass over it is one epoch, in
    its own order (drawn when the pass starts: Keras stops reading at
    the epoch's last batch, so nothing may wait for the generator's end).
    """
    ids = tf.TensorSpec((None, None), tf.int32)
    signature = ({"encoder_inputs": ids, "decoder_inputs": ids}, ids,
                 tf.TensorSpec((None, None), tf.float32))

    first = [True]

    def epoch():
        if not first[0]:
            batches.on_epoch_end()
        first[0] = False
        for index in range(len(batches)):
            yield batches[index]

    dataset = tf.data.Dataset.from_generator(epoch, output_signature=signature)
    return dataset.apply(tf.data.experimental.assert_cardinality(len(batches))).prefetch(2)
