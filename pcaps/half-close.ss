# netns client
State      Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
FIN-WAIT-2 0      0          192.0.2.1:37682    192.0.2.2:83         
# netns server
State      Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN     0      4096       192.0.2.2:83        0.0.0.0:*           
CLOSE-WAIT 0      0          192.0.2.2:83      192.0.2.1:37682       
